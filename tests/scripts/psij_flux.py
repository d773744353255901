"""PSI/J's flux executor, as a PSI/J user writes it, inside a Flux instance
(FLUX_URI): a job that completes, one that fails with an exit code, one
listed and then canceled.  Prints one JSON line.  (Run by
tests/test_tools.py; unchanged PSI/J.)"""
import json
import time

import psij

ex = psij.JobExecutor.get_instance("flux")


def submit(executable, *args):
    spec = psij.JobSpec(executable=executable, arguments=list(args),
                        resources=psij.ResourceSpecV1(process_count=1,
                                                      cpu_cores_per_process=1))
    job = psij.Job(spec)
    ex.submit(job)
    return job


report = {}
done = submit("/bin/true")
failed = submit("/bin/sh", "-c", "exit 3")
long = submit("/bin/sleep", "300")
done.wait()
failed.wait()
report["completed"] = [str(done.status.state), done.status.exit_code]
report["failed"] = [str(failed.status.state), failed.status.exit_code]
long.wait(target_states=[psij.JobState.ACTIVE])
# native ids are f58 text, list() gives integers: compare as Flux job ids
import flux.job  # noqa: E402
# job-list learns of jobs from the job manager's journal, a moment after
# the eventlog PSI/J watches: a job just started may not be listed yet
# (10 s was once too short, late in a full suite run that had left job-list
# a backlog).
deadline = time.monotonic() + 60
while True:
    report["listed"] = int(flux.job.JobID(long.native_id)) in [int(i) for i in ex.list()]
    if report["listed"] or time.monotonic() > deadline:
        break
    time.sleep(0.1)
long.cancel()
long.wait()
report["canceled"] = str(long.status.state)
import flux
report["flux_ctypes"] = getattr(flux, "__flux_ctypes__", False)
print(json.dumps(report))
