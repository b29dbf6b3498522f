import sys

from deep_impression.cli import main

sys.exit(main())
