"""`ganfx info MODEL`: the contract, parameters and execution providers.

    ganfx info redbrick
    ganfx info wall.onnx --json      # the contract as JSON: structured keys are objects and lists
"""


def add_arguments(parser):
    parser.add_argument("model", help="model name (see `ganfx models`) or path to an .onnx file")
    parser.add_argument("--json", action="store_true", help="print the contract as JSON")


def run(args) -> int:
    import json

    from ganfx.runtime.contract import read_spec
    from ganfx.runtime.model import resolve_model_path
    from ganfx.runtime.providers import available_providers, choose_providers

    path = resolve_model_path(args.model)
    spec = read_spec(path)  # refuses weights that differ from the contract's digest
    if args.json:
        contract = spec.to_json()
        print(json.dumps({"path": str(path), **{k: contract[k] for k in sorted(contract)}}, indent=2))
        return 0
    print(f"{spec.name} {spec.version} ({spec.kind})  {path}")
    print(f"  {spec.description}")
    print(f"  licence: {spec.license}")
    for role, tensors in (("input", spec.inputs), ("output", spec.outputs)):
        for t in tensors:
            print(f"  {role}: {t.name} [N,{t.channels},H,W] {t.dtype} range {list(t.range)} {t.colorspace}")
    print(f"  halo: {spec.halo}px  size multiple: {spec.multiple}")
    if spec.noise:
        n = spec.noise
        print(f"  noise: {n.channels} channels, {n.stride} px per cell, halo {n.halo} cells")
    print("  parameters:")
    for p in spec.params:
        rng = "" if p.min is None and p.max is None else f" [{p.min}, {p.max}]"
        extra = f" choices {', '.join(p.choices)}" if p.choices else ""
        print(f"    {p.name} ({p.type}) = {p.default!r}{rng}{extra}  {p.label}" + (f" - {p.help}" if p.help else ""))
    if spec.training:
        print(f"  training: {json.dumps(spec.training, sort_keys=True)}")
    if spec.parity is not None:
        print(f"  parity (torch vs onnxruntime, max abs): {spec.parity:.2e}")
    if spec.digest:
        print(f"  weights: {spec.digest} (checked: they match)")
    else:
        print("  weights: no digest (exported before ganfx.digest): not checked")
    chosen, reason = choose_providers(None)
    print(f"  providers available: {', '.join(available_providers())}")
    print(f"  would run on: {reason}")
    return 0
