"""`ganfx info MODEL`: the contract, parameters, engines and what precision auto picks here.

    ganfx info redbrick
    ganfx info wall.onnx --json      # the contract as JSON (structured keys are objects and lists), and "engines"
    ganfx info watercolor --probe    # run the bf16/fp16 probes of precision auto now (once per model and machine)

The engines part reads what was probed and measured for this model on this machine from the
cache folder (runtime/engines.py: $GANFX_CACHE, else ~/.cache/ganfx); nothing runs unless
--probe is given.
"""


def add_arguments(parser):
    from ganfx.plugin.cli.render_cmd import add_engine_arguments

    parser.add_argument("model", help="model name (see `ganfx models`) or path to an .onnx file")
    parser.add_argument("--json", action="store_true", help="print the contract as JSON")
    parser.add_argument("--probe", action="store_true",
                        help="open the model as --precision (default auto) would, running its probes now")
    add_engine_arguments(parser)


def run(args) -> int:
    import json

    from ganfx.runtime import engines
    from ganfx.runtime.contract import read_spec
    from ganfx.runtime.model import resolve_model_path
    from ganfx.runtime.providers import available_providers, choose_providers

    path = resolve_model_path(args.model)
    spec = read_spec(path)  # refuses weights that differ from the contract's digest
    opened = _probe(args) if args.probe else None
    summary = engines.summary(path, spec)
    if opened is not None:
        summary["opened"] = {"engine": opened.engine.choice.key, "why": opened.provider_reason}
    if args.json:
        contract = spec.to_json()
        print(json.dumps({"path": str(path), **{k: contract[k] for k in sorted(contract)}, "engines": summary},
                         indent=2))
        return 0
    print(f"{spec.name} {spec.version} ({spec.kind})  {path}")
    print(f"  {spec.description}")
    print(f"  licence: {spec.license}")
    sound = spec.kind == "sound"
    unit = "samples" if sound else "px"
    for role, tensors in (("input", spec.inputs), ("output", spec.outputs)):
        for t in tensors:
            dims = "L" if t.layout == "NCW" else "H,W"
            rate = f" at {t.rate} Hz" if t.rate else ""
            print(f"  {role}: {t.name} [N,{t.channels},{dims}] {t.dtype} range {list(t.range)} {t.colorspace}{rate}")
    print(f"  halo: {spec.halo} {unit}  size multiple: {spec.multiple}")
    if spec.noise:
        n = spec.noise
        print(f"  noise: {n.channels} channels, {n.stride} {unit} per cell, halo {n.halo} cells")
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
    print_engines(summary)
    return 0


def _probe(args):
    from ganfx.plugin.cli.render_cmd import engine_settings
    from ganfx.runtime.model import load_model

    settings = engine_settings(args)
    if settings["precision"] == "fp32" and not settings["engine"]:
        settings["precision"] = "auto"  # --probe alone: what auto takes
    return load_model(args.model, **settings)


def print_engines(summary: dict) -> None:
    m = summary["machine"]
    parts = []
    for name, e in m["engines"].items():
        where = e.get("providers") or e.get("devices")
        parts.append(f"{name} {e['version']} ({', '.join(where)})" if "version" in e else f"{name}: not installed")
    print(f"  engines here: {'; '.join(parts)}")
    yes = {True: "yes", False: "no"}
    fp16 = yes[bool(summary["native_fp16"])]
    if summary["native_fp16"] and not summary.get("fast_fp16"):
        fp16 += " (no AMX-FP16: expected slower than fp32, so auto skips it; ganfx bench times it)"
    print(f"  CPU: {m['cpu']}, {m['cores']} cores; native bf16: {yes[bool(summary['native_bf16'])]}, native fp16: "
          f"{fp16}")
    probes = summary["probes"]
    if probes:
        for key, p in sorted(probes.items()):
            verdict = "within" if p.get("ok") else "outside"
            print(f"  probe {key}: max {p['max_diff'] * 255:.2f}/255 of fp32 on a {p.get('input', '?')} input, "
                  f"{verdict} {p['tolerance'] * 255:.0f}/255")
    else:
        print("  probes: none on this machine yet (the first --precision auto runs them, or ganfx info --probe)")
    bench = summary.get("bench")
    if bench:
        picks = ", ".join(f"{k} {v}" for k, v in sorted((bench.get("picks") or {}).items()))
        print(f"  bench ({bench.get('size', '?')}, {bench.get('when', '?')}): picks {picks}")
    pick, why = summary["auto"]["pick"], summary["auto"]["why"]
    print(f"  precision auto: {pick or 'nothing'} ({why})")
    if "opened" in summary:
        print(f"  opened: {summary['opened']['why']}")
