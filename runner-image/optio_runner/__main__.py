import os
import sys

if os.environ.get("OPTIO_WARM_POD"):
    # A warm runner: it waits for an attempt of its pool, then runs it (optio_runner.warm).
    from optio_runner.warm import main
else:
    from optio_runner.runner import main

sys.exit(main())
