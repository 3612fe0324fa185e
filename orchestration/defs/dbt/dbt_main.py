"""`dbt` as the environment's dbt script starts it (``dbt.cli.main:cli``), with dbt's own objects kept out of
Python's cyclic garbage collector. salesdw starts dbt as this file (project.DBT_COMMAND): the dbt resource
instead of the script (resource.py), `dbt parse` and the tests' own dbt builds.

Importing dbt and its adapters builds some hundreds of thousands of objects (modules, classes, the to/from-dict
code mashumaro generates) that live as long as the process. Python's collector walks all of them in every full
collection (loading the partial-parse state and writing manifest.json trigger several) and once more when the
interpreter exits. ``gc.freeze()`` after the imports moves them out of its reach; a second one just before exit
spares the final walk over the manifest too, whose memory the process hands back whole. Nothing changes what
dbt does: objects made afterwards are collected as before, and the warehouse connection, the log file and the
artifacts are all closed explicitly before exit. About 1 s off each dbt invocation on a 2-core machine (most of it
the exit), measured with a scale-10 warehouse.

Started as ``python -P dbt_main.py``: -P keeps this directory (whose resource.py would shadow the standard
library's ``resource``, which dbt imports) off ``sys.path``.
"""

import gc

from dbt.cli.main import cli

if __name__ == "__main__":
    gc.freeze()
    try:
        cli()  # exits through SystemExit with dbt's exit code, as the dbt script does
    finally:
        gc.freeze()
