"""FluxExecutor: a concurrent.futures-style executor whose work items are
Flux jobs.

Each executor thread owns a Flux handle and runs its reactor; the caller
hands it work through a deque (a submission or an attachment), which the
thread picks up on a short timer.  A job's future is completed from its
eventlog: the exit status of ``finish`` (negative for a signal), or a
JobException for a fatal ``exception`` event.

Threads are daemons and check the shutdown event on every timer tick, so
shutdown(wait=True) returns once the running jobs are done and an
abandoned executor never holds up interpreter exit.
"""

import atexit
import collections
import concurrent.futures
import itertools
import logging
import os
import threading
import weakref
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Set

from flux_ctypes.handle import Flux
from flux_ctypes.job.event import MAIN_EVENTS, EventLogEvent, JobException, event_watch_async
from flux_ctypes.job.submit import submit_async, submit_get_id

__all__ = ["FluxExecutor", "FluxExecutorFuture"]

#: a job to submit: submit_async()'s arguments (without the handle)
_SubmitPackage = collections.namedtuple(
    "_SubmitPackage", ["submit_args", "submit_kwargs", "future"])


class _AttachPackage:
    """An existing job to follow; its future knows the ID at once."""

    __slots__ = ("jobid", "future")

    def __init__(self, jobid: Any, fut: "FluxExecutorFuture") -> None:
        self.jobid = jobid
        self.future = fut
        fut._set_jobid(jobid)


class _FluxExecutorThread(threading.Thread):
    """One executor thread: submits and attaches what the executor queued,
    and completes the futures from their jobs' eventlogs."""

    def __init__(
        self,
        broken_event: threading.Event,
        exit_event: threading.Event,
        packages_to_handle: Deque[Any],
        poll_interval: float,
        handle_args: Sequence[Any],
        handle_kwargs: Dict[str, Any],
        **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.__broken_event = broken_event
        self.__exit_event = exit_event
        self.__packages_to_handle = packages_to_handle
        self.__poll_interval = poll_interval
        # made here, used only by this thread once it runs
        self.__flux_handle = Flux(*handle_args, **handle_kwargs)
        self.__running_user_futures = set()  # type: Set[FluxExecutorFuture]

    def run(self) -> None:
        try:
            self.__run()
        except Exception as exc:
            # broken: fail every future this thread has, and every one
            # queued to it until the executor shuts down
            self.__broken_event.set()
            for fut in list(self.__running_user_futures):
                if not fut.done():
                    fut.set_exception(exc)
            while self.__packages_to_handle or not self.__exit_event.is_set():
                try:
                    package = self.__packages_to_handle.popleft()
                except IndexError:
                    self.__exit_event.wait(0.01)
                else:
                    package.future.set_exception(exc)
            raise
        finally:
            self.__running_user_futures.clear()

    def __run(self) -> None:
        timer = self.__flux_handle.timer_watcher_create(
            self.__poll_interval, self.__submit_new_jobs, repeat=self.__poll_interval)
        timer.start()
        try:
            while self.__work_remains():
                self.__submit_new_jobs(reactor_run=False)
                if self.__flux_handle.reactor_run() < 0:
                    raise RuntimeError("reactor start failed")
        finally:
            timer.stop()

    def __work_remains(self) -> bool:
        """False once it is safe to exit: shut down, nothing queued,
        nothing running."""
        return bool(not self.__exit_event.is_set() or self.__packages_to_handle
                    or self.__running_user_futures)

    def __submit_new_jobs(self, *_: Any, reactor_run: bool = True) -> None:
        # also the timer's callback (whose arguments are ignored)
        if reactor_run and not self.__work_remains():
            self.__flux_handle.reactor_stop()
            return
        if not self.__running_user_futures and not self.__packages_to_handle:
            # idle: wait for work (or shutdown) without spinning
            self.__exit_event.wait(self.__poll_interval)
        while self.__packages_to_handle:
            try:
                package = self.__packages_to_handle.popleft()
            except IndexError:
                break
            if not package.future.set_running_or_notify_cancel():
                continue
            if isinstance(package, _SubmitPackage):
                self.__handle_submit(package)
            else:
                self.__handle_attach(package)

    def __handle_submit(self, package: Any) -> None:
        try:
            submit_async(self.__flux_handle, *package.submit_args,
                         **package.submit_kwargs).then(
                self.__submission_callback, package.future)
        except Exception as exc:
            package.future.set_exception(exc)
        else:
            self.__running_user_futures.add(package.future)

    def __handle_attach(self, package: _AttachPackage) -> None:
        try:
            event_watch_async(self.__flux_handle, package.jobid).then(
                self.__event_update, package.future)
        except Exception as exc:
            package.future.set_exception(exc)
        else:
            self.__running_user_futures.add(package.future)

    def __submission_callback(self, submission: Any, user_future: "FluxExecutorFuture") -> None:
        try:
            jobid = submit_get_id(submission)
        except Exception as exc:
            user_future.set_exception(exc)
            self.__running_user_futures.discard(user_future)
            return
        user_future._set_jobid(jobid)
        try:
            event_watch_async(self.__flux_handle, jobid).then(
                self.__event_update, user_future)
        except Exception as exc:  # pragma: no cover - the handle failed
            user_future.set_exception(exc)
            self.__running_user_futures.discard(user_future)

    def __event_update(self, event_future: Any, user_future: "FluxExecutorFuture") -> None:
        event = None
        try:
            event = event_future.get_event()
        except FileNotFoundError:
            user_future.set_exception(ValueError("job ID does not match any job"))
        except Exception as exc:
            user_future.set_exception(exc)
        if event is None:  # the eventlog ended (or could not be read)
            self.__running_user_futures.discard(user_future)
            return
        if event.name in user_future.EVENTS:
            user_future._set_event(event)
        if user_future.done():
            return
        if event.name == "finish":
            status = event.context["status"]
            if os.WIFEXITED(status):
                user_future.set_result(os.WEXITSTATUS(status))
            elif os.WIFSIGNALED(status):
                user_future.set_result(-os.WTERMSIG(status))
            else:
                user_future.set_exception(ValueError(status))
        elif event.name == "exception" and event.context.get("severity") == 0:
            user_future.set_exception(JobException(event))


class FluxExecutorFuture(concurrent.futures.Future):  # type: ignore[type-arg]
    """The future of one job: a concurrent.futures.Future whose result is
    the job's exit code (``-signum`` if a signal ended it), with the job's
    ID (``jobid()``, ``add_jobid_callback()``) and its eventlog events
    (``add_event_callback()``).

    Waiting for the result from the executor thread that completes it (in
    a callback) would deadlock, so it raises RuntimeError there."""

    EVENTS = MAIN_EVENTS

    def __init__(self, owning_thread_id: Optional[int], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.__owning_thread_id = owning_thread_id
        self.__jobid_condition = threading.Condition()
        self.__jobid = None  # type: Any
        self.__jobid_set = False
        self.__jobid_exception = None  # type: Optional[BaseException]
        self.__jobid_callbacks = []  # type: List[Callable[..., Any]]
        self.__event_lock = threading.RLock()
        self.__events_occurred = {
            name: collections.deque() for name in self.EVENTS
        }  # type: Dict[str, Deque[EventLogEvent]]
        self.__event_callbacks = {
            name: collections.deque() for name in self.EVENTS
        }  # type: Dict[str, Deque[Callable[..., Any]]]

    # -- the job ID ----------------------------------------------------------
    def _set_jobid(self, jobid: Any, exc: Optional[BaseException] = None) -> None:
        """Set the job ID (once), or the exception jobid() raises instead."""
        with self.__jobid_condition:
            if self.__jobid_set:
                raise RuntimeError("invalid state: jobid already set")
            self.__jobid = jobid
            self.__jobid_exception = exc
            self.__jobid_set = True
            self.__jobid_condition.notify_all()
            callbacks = list(self.__jobid_callbacks)
            self.__jobid_callbacks.clear()
        for callback in callbacks:
            self._invoke_flux_callback(callback)

    def jobid(self, timeout: Optional[float] = None) -> Any:
        """The job's ID, waiting up to ``timeout`` seconds for it
        (concurrent.futures.TimeoutError).  CancelledError if the future
        was cancelled first, RuntimeError if the job was never submitted."""
        with self.__jobid_condition:
            if not self.__jobid_set:
                self.__jobid_condition.wait_for(lambda: self.__jobid_set, timeout)
            if not self.__jobid_set:
                raise concurrent.futures.TimeoutError()
        if self.__jobid_exception is not None:
            raise self.__jobid_exception
        return self.__jobid

    def add_jobid_callback(self, callback: Callable[..., Any]) -> "FluxExecutorFuture":
        """Call ``callback(future)`` once the job ID is known (now, if it
        is); an exception it raises is logged."""
        with self.__jobid_condition:
            if not self.__jobid_set:
                self.__jobid_callbacks.append(callback)
                return self
        self._invoke_flux_callback(callback)
        return self

    def _invoke_flux_callback(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            callback(self, *args)
        except Exception:
            logging.getLogger(__name__).exception("exception calling callback for %r", self)

    # -- events -----------------------------------------------------------------
    def add_event_callback(self, event: str, callback: Callable[..., Any]) -> "FluxExecutorFuture":
        """Call ``callback(future, event)`` for each eventlog event named
        ``event`` (one of EVENTS), including those that already happened."""
        if event not in self.EVENTS:
            raise ValueError(event)
        with self.__event_lock:
            self.__event_callbacks[event].append(callback)
            for entry in list(self.__events_occurred[event]):
                self._invoke_flux_callback(callback, entry)
        return self

    def _set_event(self, log_entry: EventLogEvent) -> None:
        """Record an event and call its callbacks (executor use)."""
        name = log_entry.name
        if name not in self.EVENTS:
            raise ValueError(name)
        with self.__event_lock:
            self.__events_occurred[name].append(log_entry)
            for callback in list(self.__event_callbacks[name]):
                self._invoke_flux_callback(callback, log_entry)

    # -- concurrent.futures.Future ------------------------------------------------
    def add_done_callback(self, fn: Callable[..., Any]) -> "FluxExecutorFuture":  # type: ignore[override]
        super().add_done_callback(fn)
        return self

    def _check_not_owner(self) -> None:
        if not self.done() and threading.get_ident() == self.__owning_thread_id:
            raise RuntimeError("Cannot wait for future from inside callback")

    def result(self, timeout: Optional[float] = None) -> Any:
        self._check_not_owner()
        return super().result(timeout)

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        self._check_not_owner()
        return super().exception(timeout)

    def set_exception(self, exception: Optional[BaseException]) -> None:
        # a job that never got an ID never will: jobid() says why
        with self.__jobid_condition:
            unset = not self.__jobid_set
        if unset:
            try:
                self._set_jobid(None, RuntimeError(
                    "job could not be submitted due to {!r}".format(exception)))
            except RuntimeError:  # set meanwhile by another thread
                pass
        super().set_exception(exception)

    def cancel(self) -> bool:
        if self.cancelled():
            return True
        cancelled = super().cancel()
        if cancelled:
            with self.__jobid_condition:
                unset = not self.__jobid_set
            if unset:
                try:
                    self._set_jobid(None, concurrent.futures.CancelledError())
                except RuntimeError:
                    pass
        return cancelled


class FluxExecutor:
    """Runs Flux jobs as futures, from background threads (``threads`` of
    them, each with its own handle made with ``handle_args`` and
    ``handle_kwargs``).

    ``submit(jobspec, **submit_options)`` submits a job, ``attach(jobid)``
    follows an existing one; both return a FluxExecutorFuture.  Use it as
    a context manager, or call shutdown()."""

    _counter = itertools.count().__next__
    EVENTS = MAIN_EVENTS

    def __init__(
        self,
        threads: int = 1,
        thread_name_prefix: str = "",
        poll_interval: float = 0.1,
        handle_args: Sequence[Any] = (),
        handle_kwargs: Optional[Dict[str, Any]] = None,
    ) -> None:
        if not isinstance(threads, int) or threads < 1:
            raise ValueError("the number of threads must be > 0")
        if poll_interval <= 0:
            raise ValueError("poll_interval must be > 0")
        self._submission_queues = [collections.deque() for _ in range(threads)]  # type: List[Deque[Any]]
        self._next_thread = 0
        self._shutdown_lock = threading.Lock()
        self._broken_event = threading.Event()
        self._shutdown_event = threading.Event()
        prefix = thread_name_prefix or "{}-{}".format(type(self).__name__, self._counter())
        self._executor_threads = [
            _FluxExecutorThread(
                self._broken_event, self._shutdown_event, queue, poll_interval,
                tuple(handle_args), dict(handle_kwargs or {}),
                name="{}-{}".format(prefix, i), daemon=True,
            )
            for i, queue in enumerate(self._submission_queues)
        ]
        for thread in self._executor_threads:
            thread.start()
        # a forgotten executor still stops its threads when collected; at
        # interpreter exit they are told to stop but not waited for long
        # (see _at_exit), so a long job never holds up exit
        self._finalizer = weakref.finalize(
            self, _stop_threads, self._shutdown_event, self._executor_threads)
        self._finalizer.atexit = False
        _LIVE.add(self)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new jobs after this; with ``wait``, return once every job
        already given has finished.  ``cancel_futures`` cancels those not
        yet handed to Flux.  Safe to call more than once."""
        with self._shutdown_lock:
            self._shutdown_event.set()
        if cancel_futures:
            for queue in self._submission_queues:
                while queue:
                    try:
                        package = queue.popleft()
                    except IndexError:
                        break
                    if package.future.cancel():
                        package.future.set_running_or_notify_cancel()
        if wait:
            current = threading.current_thread()
            for thread in self._executor_threads:
                if thread is not current:
                    thread.join()

    def submit(self, *args: Any, **kwargs: Any) -> FluxExecutorFuture:
        """Submit a job: the arguments of flux.job.submit() without the
        handle (a jobspec, then urgency, waitable, debug...)."""
        return self._create_future(_SubmitPackage, args, kwargs)

    def attach(self, jobid: Any) -> FluxExecutorFuture:
        """A future for an existing job ``jobid``."""
        return self._create_future(_AttachPackage, jobid)

    def _create_future(self, factory: Callable[..., Any], *factory_args: Any) -> FluxExecutorFuture:
        if self._broken_event.is_set():
            raise RuntimeError("Executor is broken, new futures cannot be scheduled")
        with self._shutdown_lock:
            if self._shutdown_event.is_set():
                raise RuntimeError("cannot schedule new futures after shutdown")
            index = self._next_thread
            fut = FluxExecutorFuture(self._executor_threads[index].ident)
            self._submission_queues[index].append(factory(*factory_args, fut))
            self._next_thread = (index + 1) % len(self._submission_queues)
            return fut

    def __enter__(self) -> "FluxExecutor":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown(wait=True)


def _stop_threads(event: threading.Event, threads: Sequence[threading.Thread],
                  timeout: Optional[float] = None) -> None:
    # not a method: the finalizer must not keep the executor alive
    event.set()
    current = threading.current_thread()
    for thread in threads:
        if thread is not current and thread.is_alive():
            thread.join(timeout)


# Executors not yet collected, for the exit hook.
_LIVE = weakref.WeakSet()  # type: weakref.WeakSet[FluxExecutor]

# How long interpreter exit waits for each executor thread still running.
EXIT_TIMEOUT = 1.0


def _at_exit() -> None:
    # Cancel what was never started and give the threads a moment; the
    # threads are daemons, and Flux jobs outlive this process anyway.
    for executor in list(_LIVE):
        executor._shutdown_event.set()
        for queue in executor._submission_queues:
            while queue:
                try:
                    queue.popleft().future.cancel()
                except IndexError:
                    break
        _stop_threads(executor._shutdown_event, executor._executor_threads, EXIT_TIMEOUT)


atexit.register(_at_exit)
