import sys

from best_app.ops.cli import main

sys.exit(main())
