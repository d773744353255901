"""flux_ctypes.cli.plugin: CLI plugins loaded by Jobspec.apply_options()."""

import textwrap

import pytest

from flux_ctypes.cli.plugin import CLIPluginRegistry
from flux_ctypes.job import JobspecV1

PLUGIN = textwrap.dedent("""\
    from flux_ctypes.cli.plugin import CLIPlugin

    class SitePlugin(CLIPlugin):
        '''Adds --site-tag.'''

        def __init__(self, prog, prefix="site"):
            super().__init__(prog, prefix=prefix)
            self.add_option("--tag", default="none", help="a tag")

        def preinit(self, args):
            args.tag = args.tag.upper()      # unprefixed alias, written through

        def modify_jobspec(self, args, jobspec):
            jobspec.setattr("user.tag", args.site_tag)

        def validate(self, jobspec):
            if jobspec.getattr("user.tag") == "BAD":
                raise ValueError("bad tag")
    """)

CLASH = textwrap.dedent("""\
    from flux_ctypes.cli.plugin import CLIPlugin

    class Clash(CLIPlugin):
        def __init__(self, prog):
            super().__init__(prog, prefix="site")
            self.add_option("--tag")
    """)


@pytest.fixture
def plugindir(tmp_path, monkeypatch):
    (tmp_path / "a_site.py").write_text(PLUGIN)
    (tmp_path / "b_clash.py").write_text(CLASH)
    monkeypatch.setenv("FLUX_CLI_PLUGINPATH_OVERRIDE", str(tmp_path))
    return tmp_path


def test_registry_loads_options_and_drops_clashes(plugindir):
    registry = CLIPluginRegistry("flux submit")
    assert [type(p).__name__ for p in registry.plugins] == ["SitePlugin"]
    assert [o.name for o in registry.options] == ["--site-tag"]
    assert registry.plugins[0].prog == "submit"


def test_apply_options_runs_plugins(plugindir):
    js = JobspecV1.from_command(["true"]).apply_options(prog="submit", site_tag="blue")
    assert js.getattr("user.tag") == "BLUE"
    # the option's default is seeded before preinit()
    js = JobspecV1.from_submit(["true"])
    assert js.getattr("user.tag") == "NONE"
    with pytest.raises(ValueError, match="bad tag"):
        CLIPluginRegistry("submit").validate(
            JobspecV1.from_command(["true"]).apply_options(prog="submit", site_tag="bad"))
    with pytest.raises(TypeError, match="tag"):
        JobspecV1.from_command(["true"]).apply_options(prog="submit", tag="x")
    # without prog no plugin is loaded, so its option is unknown
    with pytest.raises(TypeError):
        JobspecV1.from_command(["true"]).apply_options(site_tag="x")


def test_empty_override_loads_nothing(monkeypatch):
    monkeypatch.setenv("FLUX_CLI_PLUGINPATH_OVERRIDE", "")
    assert CLIPluginRegistry("submit").plugins == []


def test_long_options_only():
    from flux_ctypes.cli.plugin import CLIPluginOption

    with pytest.raises(ValueError):
        CLIPluginOption("-x", "site")
    assert CLIPluginOption("--my-opt", None).dest == "my_opt"
    assert CLIPluginOption("--my-opt", "s", dest="custom").dest == "custom"
