"""A program written for the official flux bindings (``import flux``),
run by tests/test_compat.py under ``python -m flux_ctypes.compat``.

It does an RPC, runs a timer, publishes and receives an event and serves
requests through a message watcher, then prints one JSON line of what it
saw.  It never names flux_ctypes: the shim must make it work as it is.
"""

import json
import os
import sys

import flux
import flux.constants
from flux.core.watchers import TimerWatcher
from flux.future import Future
from flux.message import Message
from flux.rpc import RPC

import shim_helper  # beside this script: its directory must be on sys.path

report = {
    "name": __name__,
    "argv": sys.argv,
    "helper": shim_helper.MARK,
    "handle_class": "{0.__module__}.{0.__name__}".format(flux.Flux),
}

h = flux.Flux()

# An RPC, both through the handle and through the RPC class.
f = h.rpc("broker.ping", {"seq": 42}, nodeid=0)
report["rpc_is_future"] = isinstance(f, Future)
report["ping_seq"] = f.get()["seq"]
report["rpc_class_seq"] = RPC(h, "broker.ping", {"seq": 7}).get()["seq"]
report["rank"] = h.get_rank()

# A one-shot timer stopping the reactor.
fired = []


def on_timer(handle, watcher, revents, args):
    fired.append(args)
    handle.reactor_stop()


timer = TimerWatcher(h, 0.01, on_timer, args="tick")
timer.start()
h.reactor_run()
timer.stop()
report["timer"] = fired

# An event, published and received by this same handle.
topic = "shimtest.event{}".format(os.getpid())
h.event_subscribe(topic)
h.event_send(topic, {"n": 5})
event = h.event_recv()
report["event"] = [event.topic, event.payload, isinstance(event, Message)]
h.event_unsubscribe(topic)

# A service: register a name, answer its requests from a message watcher.
service = "shimtest{}".format(os.getpid())
h.service_register(service).get()


def on_request(handle, watcher, msg, args):
    payload = msg.payload
    handle.respond(msg, {"echo": payload["x"], "type": msg.type})


watcher = h.msg_watcher_create(
    on_request, flux.constants.FLUX_MSGTYPE_REQUEST, service + ".echo"
)
watcher.start()
answers = []


def on_response(future, n):
    answers.append(future.get()["echo"] * n)
    if len(answers) == 2:
        future.get_flux().reactor_stop()


h.rpc(service + ".echo", {"x": 3}).then(on_response, 10)
h.rpc(service + ".echo", {"x": 4}).then(on_response, 100)
h.reactor_run()
watcher.stop()
h.service_unregister(service).get()
report["service"] = sorted(answers)
report["request_type"] = flux.constants.FLUX_MSGTYPE_REQUEST

print(json.dumps(report))
sys.exit(int(os.environ.get("SHIM_EXIT", "0")))
