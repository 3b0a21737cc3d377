import time, psycopg, pytest
from hub.core.db import Database
def test_x(postgres_server):
    dsn=postgres_server.replace("postgresql+psycopg://","postgresql://")
    with psycopg.connect(dsn+"/postgres", autocommit=True) as c:
        t=time.perf_counter(); c.execute('CREATE DATABASE t1'); print("create", time.perf_counter()-t)
    t=time.perf_counter(); d=Database(postgres_server+"/t1"); d.create_all(); d.dispose(); print("create_all", time.perf_counter()-t)
    with psycopg.connect(dsn+"/postgres", autocommit=True) as c:
        for strat in ("WAL_LOG","FILE_COPY"):
            t=time.perf_counter(); c.execute(f"CREATE DATABASE t2{strat} TEMPLATE t1 STRATEGY {strat}"); print("clone", strat, time.perf_counter()-t)
