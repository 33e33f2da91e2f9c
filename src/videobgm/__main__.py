"""``python -m videobgm`` = the ``videobgm`` command."""

import sys

from videobgm.apps.cli.main import main

sys.exit(main())
