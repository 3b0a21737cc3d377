import time
from tests.core.test_runs_and_jobs import *
def test_dbg(embedded, job_setup, plugin):
    first = queue(job_setup, sleep=0.6)
    second = queue(job_setup, sleep=0.6)
    time.sleep(4)
    for r in (first, second):
        row = run_row(job_setup.hub.db, r); print(r, row.state, row.attempts, row.message, row.errors)
    print(plugin.calls)
    import sqlalchemy
    with job_setup.hub.db.engine.connect() as c:
        print(c.exec_driver_sql("select pid, state, wait_event_type, query from pg_stat_activity where datname=current_database()").all())
