"""`ganfx models`: a table of shipped and user models."""


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args) -> int:
    import json

    from ganfx.plugin.cli import warn_missing_folders
    from ganfx.runtime.model import USER_MODELS_ENV, list_models, model_folders

    warn_missing_folders("models", USER_MODELS_ENV)
    entries = list_models()
    if args.json:
        print(json.dumps([
            {"name": e.name, "source": e.source, "path": str(e.path),
             "kind": e.spec.kind if e.spec else None, "version": e.spec.version if e.spec else None,
             "description": e.spec.description if e.spec else None, "error": e.error or None}
            for e in entries], indent=2))
        return 0
    if not entries:
        folders = ", ".join(str(f) for _, f in model_folders())
        print(f"no models found (looked in: {folders})")
        return 0
    rows = [("NAME", "KIND", "VERSION", "SOURCE", "DESCRIPTION")]
    for e in entries:
        if e.spec:
            rows.append((e.name, e.spec.kind, e.spec.version, e.source, e.spec.description))
        else:
            rows.append((e.name, "?", "?", e.source, f"unreadable: {e.error}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
    return 0
