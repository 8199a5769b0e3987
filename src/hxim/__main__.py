from hxim.cli import main

raise SystemExit(main())
