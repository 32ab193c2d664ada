import sys

from optio_runner.runner import main

sys.exit(main())
