"""``python -m videobgm`` = the ``videobgm`` command."""

import sys

from videobgm.cli import main

sys.exit(main())
