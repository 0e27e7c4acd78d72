import sys

from best_app.cli import main

sys.exit(main())
