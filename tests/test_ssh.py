"""Flux("ssh://...") through flux-core's ssh connector, against an sshd
started on localhost for the test (key login, a port of its own; killed at
the end).  Skipped, with the reason, where openssh-server or the connector
is absent."""

import os
import shutil
import socket
import stat
import subprocess

import pytest

from conftest import library_or_skip
from flux_ctypes import Flux
from flux_ctypes import lib as flux_lib

SSHD = "/usr/sbin/sshd"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def sshd(tmp_path):
    library_or_skip()
    for tool in (SSHD, shutil.which("ssh"), shutil.which("ssh-keygen")):
        if not tool or not os.access(tool, os.X_OK):
            pytest.skip("openssh-server and openssh-client are needed (apt-get install "
                        "openssh-server)")
    flux_cmd = flux_lib.flux_command()
    connector = os.path.join(os.path.dirname(flux_lib.load_library().path),
                             "flux", "connectors", "ssh.so")
    if flux_cmd is None or not os.path.exists(connector):
        pytest.skip("flux-core's ssh connector is not installed ({})".format(connector))
    if not os.path.isdir("/run/sshd"):
        # sshd's privilege separation directory, which it insists on
        if os.geteuid() != 0:
            pytest.skip("sshd needs /run/sshd, and only root may create it")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    for name in ("hostkey", "clientkey"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(tmp_path / name)], check=True, timeout=60)
    shutil.copy(str(tmp_path / "clientkey.pub"), str(tmp_path / "authorized_keys"))
    port = _free_port()
    config = tmp_path / "sshd_config"
    config.write_text(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/hostkey\n"
        "AuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        "PermitRootLogin prohibit-password\n".format(port=port, d=tmp_path))
    wrapper = tmp_path / "ssh"
    wrapper.write_text(
        "#!/bin/sh\nexec ssh -F /dev/null -i {d}/clientkey -o BatchMode=yes "
        "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "
        '"$@"\n'.format(d=tmp_path))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)],
                            stderr=subprocess.PIPE, universal_newlines=True)
    try:
        line = proc.stderr.readline()  # "Server listening on ..." once ready
        if "Server listening" not in line:
            pytest.skip("sshd did not start: " + line.strip())
        yield {"port": port, "ssh": str(wrapper), "flux": flux_cmd}
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()


def test_flux_over_ssh(sshd, flux_uri, monkeypatch):
    monkeypatch.setenv("FLUX_SSH", sshd["ssh"])  # read by the connector, in process
    monkeypatch.setenv("FLUX_SSH_RCMD", sshd["flux"])
    path = flux_uri[len("local://"):]
    uri = "ssh://127.0.0.1:{}{}".format(sshd["port"], path)
    with Flux(uri) as h:
        assert h.rpc("broker.ping", {"over": "ssh"}).get()["over"] == "ssh"
        assert h.attr_get("size") == "2"
        assert h.get_rank() == 0
    assert h.closed
