from persona_studio.cli import main

raise SystemExit(main())
