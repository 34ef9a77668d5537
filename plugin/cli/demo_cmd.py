"""`ganfx demo`: render shipped models with no input."""


def add_arguments(parser):
    parser.add_argument("-o", "--output", default="ganfx-demo", help="folder to write the demo into")


def run(args) -> int:
    from ganfx.runtime.errors import ModelLoadError
    from ganfx.runtime.model import list_models

    shipped = [e for e in list_models() if e.source == "shipped" and e.spec]
    if not shipped:
        raise ModelLoadError("the demo needs the shipped models, and none are installed in this build")
    for e in shipped:
        print(f"{e.name}: {e.spec.kind} - {e.spec.description}")
    return 0
