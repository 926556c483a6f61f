"""The `advnets` command: train | sample | evaluate | figure | theory | info | presets. A thin
layer over the library."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

from advnets import config as cfgmod


def _add_run_argument(p: argparse.ArgumentParser, name: str = "run") -> None:
    p.add_argument(name, help="a run folder (its latest checkpoint) or a checkpoint folder")


def _add_seed_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")


def _add_data_dir_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir", help="folder holding the data files (else $ADVNETS_DATA, else the cache)"
    )


def _add_progress_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_last_iterate_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--last-iterate",
        action="store_true",
        help="use G as last trained, not the run's running average of G (config average.kind)",
    )


def _add_truncation_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--truncation",
        type=float,
        default=1.0,
        metavar="PSI",
        help="feed G the noise PSI * z, PSI in (0, 1]: fewer unusual samples, less variety "
        "(default 1: the model itself)",
    )


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("config fields (override the preset and --config)")
    for path, (tp, _) in cfgmod.field_paths().items():
        group.add_argument(
            f"--{path}",
            dest=f"set:{path}",
            metavar="V",
            default=argparse.SUPPRESS,
            help=cfgmod.describe_type(tp),
        )


def _overrides(args: argparse.Namespace) -> dict:
    values: dict[str, dict[str, str]] = {}
    for key, value in vars(args).items():
        if key.startswith("set:"):
            sec, name = key[4:].split(".", 1)
            values.setdefault(sec, {})[name] = value
    if getattr(args, "data_dir", None):
        values.setdefault("data", {})["dir"] = args.data_dir
    if getattr(args, "device", None):
        values.setdefault("train", {})["device"] = args.device
    return values


def resolve_config(args: argparse.Namespace) -> cfgmod.Config:
    """Preset (or the defaults), then `--data`'s settings, then the TOML file, then command-line
    fields."""
    preset = args.preset
    data_values = {}
    if getattr(args, "data", None):
        from advnets.data.sniff import defaults_for

        data_values = defaults_for(args.data, with_model=not preset and not args.config)
        preset = preset or data_values.pop("preset", None)
    config = cfgmod.load_preset(preset) if preset else cfgmod.Config()
    if data_values:
        config = cfgmod.apply(config, data_values, source=f"--data {args.data}")
    if args.config:
        config = cfgmod.load_toml(args.config, base=config)
    return cfgmod.apply(config, _overrides(args), source="command line", from_text=True)


def cmd_train(args: argparse.Namespace) -> int:
    from advnets.train import loop

    if args.resume:
        if args.preset or args.config or args.data:
            raise cfgmod.ConfigError(
                "--resume continues a run with its saved config: drop --preset/--config/--data "
                "(fields such as --train.epochs may still be given)"
            )
        if args.out:
            raise cfgmod.ConfigError(
                f"--resume continues the run in its own folder, {args.resume}: drop --out (to "
                "continue a copy elsewhere, copy the run folder first)"
            )
        if args.dry_run:
            from advnets.run import Run

            saved = Run(args.resume).config()
            print(
                cfgmod.apply(
                    saved, _overrides(args), source="command line", from_text=True
                ).to_toml()
            )
            return 0
        run_dir = loop.resume(
            args.resume, _overrides(args), from_text=True, progress=not args.no_progress
        )
    else:
        config = resolve_config(args)
        if args.dry_run:
            print(config.to_toml())
            return 0
        out = (
            Path(args.out)
            if args.out
            else Path("runs") / f"{args.preset or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}"
        )
        run_dir = loop.train(config, out, progress=not args.no_progress)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, process 0 speaks for the run
        print(f"run folder: {run_dir}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from advnets.figures.plots import save_samples
    from advnets.sample import check_picture_size, check_truncation, load_generator, write_npy

    if args.n < 1:
        raise cfgmod.ConfigError(f"-n {args.n}: the number of samples must be at least 1")
    check_truncation(args.truncation)
    if not args.out and not args.npy:
        raise cfgmod.ConfigError("nothing to write: give --out FILE.png and/or --npy FILE.npy")
    trained = load_generator(args.path, average=not args.last_iterate)
    if args.out:  # before anything is drawn or written
        check_picture_size(args.n, images=bool(trained.image_shape))
    if args.npy:
        shape = write_npy(trained, args.npy, args.n, args.seed, args.label, args.truncation)
        print(f"wrote {args.npy}: {shape} float32")
    if args.out:
        samples = trained.sample(
            args.n, seed=args.seed, label=args.label, truncation=args.truncation
        )
        data = None
        if not trained.image_shape:  # points are drawn over points of the data (test split)
            from advnets.data import load

            data = load(trained.config.data.source, "test", toy_size=trained.config.data.toy_size).x
        title = f"step {trained.step}"
        save_samples(samples, trained.image_shape, data, args.out, nrow=args.nrow, title=title)
        of = "" if args.label is None else f" of class {args.label}"
        psi = "" if args.truncation == 1 else f", truncation {args.truncation:g}"
        print(
            f"wrote {args.out}: {args.n} samples{of} from {trained.checkpoint} (seed "
            f"{args.seed}{psi})"
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from advnets.export import export

    card = export(
        args.source,
        args.out,
        format=args.format,
        average=not args.last_iterate,
        force=args.force,
    )
    t = card["training"]
    print(
        f"wrote {args.out}: the generator of {card['source']['run']} at step {t['step']} "
        f"({t['weights']}), {args.format} format"
        + (f", SHA-256 {card['sha256']}" if "sha256" in card else "")
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from advnets.web import serve

    if not 0 <= args.port <= 65535:
        raise cfgmod.ConfigError(f"--port {args.port}: expected 0 to 65535")
    serve(args.path, args.host, args.port, args.data_dir)
    return 0


def _sigmas(text: str) -> tuple[float, ...]:
    """'0.1,0.2' or 'logspace:START,STOP,NUM' (powers of ten, as numpy.logspace)."""
    import numpy as np

    try:
        if text.startswith("logspace:"):
            start, stop, num = text[len("logspace:") :].split(",")
            return tuple(float(s) for s in np.logspace(float(start), float(stop), int(num)))
        return tuple(float(s) for s in text.split(","))
    except ValueError as err:
        raise cfgmod.ConfigError(
            f"--sigmas {text!r}: give widths like 0.1,0.2 or logspace:-1,0,10 ({err})"
        ) from None


def cmd_evaluate(args: argparse.Namespace) -> int:
    from advnets.evaluate import Protocol, evaluate, format_table
    from advnets.io import atomic_write_text

    protocol = Protocol(
        samples=args.samples,
        seed=args.seed,
        split=args.split,
        split_start=args.split_start,
        split_rows=args.split_rows,
        valid_rows=args.valid_rows,
        kid_subsets=args.kid_subsets,
        kid_subset_size=args.kid_subset_size,
        pr_k=args.pr_k,
        memory_mb=args.memory_mb,
        mode_samples=args.mode_samples,
        truncation=args.truncation,
    )
    if args.sigmas:
        protocol.sigmas = _sigmas(args.sigmas)
    result = evaluate(
        args.run,
        args.metric,
        protocol,
        reference=args.reference,
        source=args.data,
        last_iterate=args.last_iterate,
        data_dir=args.data_dir,
        progress=not args.no_progress,
        write=not args.no_write,
    )
    print(format_table(result))
    if args.out:
        atomic_write_text(args.out, json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.out}")
    if result.recorded_in:
        print(f"recorded in {result.recorded_in}")
    return 0


def cmd_figure(args: argparse.Namespace) -> int:
    from advnets.figures.catalogue import FigureOptions, draw

    options = FigureOptions(
        seed=args.seed,
        rows=args.rows,
        cols=args.cols,
        steps=args.steps,
        samples=args.samples,
        label=args.label,
        last_iterate=args.last_iterate,
        data_dir=args.data_dir,
    )
    print(f"wrote {draw(args.name, args.run, args.out, options)}")
    return 0


def cmd_theory(args: argparse.Namespace) -> int:
    from advnets.figures.theory import write_theory_report

    r = write_theory_report(
        args.run,
        args.out,
        d_steps=args.d_steps,
        objective_steps=args.objective_steps,
        seed=args.seed,
    )
    p, t, f = r["proposition1"], r["theorem1"], r["fit"]
    print(f"run {args.run} at step {r['step']}")
    print(
        f"Proposition 1: max |D - D*| = {p['max_abs_error']:.4f} (mean {p['mean_abs_error']:.4f}) "
        "over "
        f"{p['points']} grid points where p_data + p_g > {p['support_fraction']} x its maximum"
    )
    print(
        f"Theorem 1:     V(D, G) = {t['v']:.4f}, -log 4 + 2 JSD = {t['c_of_g']:.4f} (JSD "
        f"{t['jsd']:.4f}), "
        f"difference {t['difference']:+.4f}"
    )
    print(
        f"Fit:           W1 = {f['wasserstein1']:.4f}, KS = {f['ks']:.4f}, "
        f"samples mean {f['sample_mean']:.3f} sd {f['sample_sd']:.3f}"
    )
    for name, o in r["objectives"].items():
        print(
            f"{name:>14}: mean |grad G| over the first 50 steps "
            f"{o['first_50_steps_mean_g_grad_norm']:.4g}"
        )
    return 0


def cmd_inpaint(args: argparse.Namespace) -> int:
    from advnets.inpaint import inpaint_run

    report, out = inpaint_run(
        args.run, args.mask, args.n, args.split, steps=args.steps, restarts=args.restarts,
        lr=args.lr, realism=args.realism, seed=args.seed, cols=args.cols, out=args.out,
        data_dir=args.data_dir, last_iterate=args.last_iterate, progress=not args.no_progress,
    )  # fmt: skip
    source = report["data"]
    print(
        f"{args.n} {source} {args.split} images, {report['mask_meaning']}; squared error per "
        "hidden pixel "
        f"{report['hidden_mse']:.4f} (filled with the mean image: "
        f"{report['hidden_mse_mean_fill']:.4f})"
    )
    if "accuracy_completed" in report:
        print(
            f"classifier accuracy: whole {report['accuracy_whole']:.4f}, as seen "
            f"{report['accuracy_seen']:.4f}, "
            f"completed {report['accuracy_completed']:.4f}; completed from the nearest training "
            "image "
            f"{report['accuracy_nearest_fill']:.4f}"
        )
    print(
        f"wrote {out / (args.mask + '.png')} (rows: whole, seen with hidden pixels grey, "
        "completed) and "
        f"{out / (args.mask + '.json')}"
    )
    return 0


def cmd_encoder(args: argparse.Namespace) -> int:
    from advnets.inference import encoder_run

    try:
        hidden = [int(h) for h in args.hidden.split(",") if h.strip()] if args.hidden else []
    except ValueError:
        hidden = []
    if not hidden or min(hidden) < 1:
        raise cfgmod.ConfigError(f"--hidden {args.hidden!r}: give layer widths like 1200,1200")
    record, written = encoder_run(
        args.run, steps=args.steps, batch=args.batch, lr=args.lr, hidden=hidden, seed=args.seed,
        data_dir=args.data_dir, last_iterate=args.last_iterate, progress=not args.no_progress,
    )  # fmt: skip
    if "loss" in record:
        log = record["loss"]
        loss = f"loss {log[0]['loss']:.3f} -> {log[-1]['loss']:.3f}"
        print(f"E fitted in {record['seconds']} s: {loss}")
    else:
        print(f"{args.run}: E trained with G ({record['trained']}), measured")
    print(f"R^2 of z recovered from G(z), 10000 new samples: {record['r2_generated']:.4f}")
    if "nn1_accuracy_cosine" in record:
        rows = record["nn1_rows"]
        print(
            f"1-nearest-neighbour label accuracy, {rows['test']} test images against "
            f"{rows['train']} training images: E(x) {record['nn1_accuracy_euclidean']:.4f} "
            f"(euclidean), {record['nn1_accuracy_cosine']:.4f} (cosine); pixels "
            f"{record['nn1_accuracy_pixels_euclidean']:.4f}"
        )
    print(f"wrote {written}")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    import numpy as np

    from advnets.data import load
    from advnets.inference import encode, load_encoder
    from advnets.io import atomic_write_bytes
    from advnets.run import open_checkpoint

    run, _ = open_checkpoint(args.run)
    E, _ = load_encoder(run.root)
    source = run.config().data.source
    data = load(source, args.split, args.data_dir)
    x = data.x[: args.n] if args.n else data.x
    codes = encode(E, x).numpy()
    buf = io.BytesIO()
    np.save(buf, codes, allow_pickle=False)
    atomic_write_bytes(args.npy, buf.getvalue())
    print(f"wrote {args.npy}: E(x) of {len(x)} {source} {args.split} images, {codes.shape} float32")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from advnets.io import atomic_write_text
    from advnets.semi import classification_report

    if args.labels_per_class is not None and args.labels_per_class < 1:
        raise cfgmod.ConfigError(f"--labels-per-class {args.labels_per_class}: must be at least 1")
    r = classification_report(
        args.run,
        labels_per_class=args.labels_per_class,
        label_seed=args.label_seed,
        baseline=not args.no_baseline,
        baseline_steps=args.baseline_steps,
        average=not args.last_iterate,
        data_dir=args.data_dir,
    )
    print(
        f"{r['run']} @ {r['checkpoint']}: {r['labelled']} labelled {r['data']} training images "
        f"({r['labels_per_class']} per class, label seed {r['label_seed']}), {r['test_rows']} test "
        "images"
    )
    if "discriminator_error" in r:
        note = (
            ""
            if r["discriminator_trained_on_these_labels"]
            else " (it was trained on other labels)"
        )
        which = (
            "semi-supervised D (its average):"
            if r["discriminator"] == "average"
            else "semi-supervised D:"
        )
        print(f"  {which:<36}{100 * r['discriminator_error']:.2f}% test error{note}")
        if "trained_discriminator_error" in r:
            print(
                "  the trained D (last iterate):       "
                f"{100 * r['trained_discriminator_error']:.2f}% test error"
            )
    print(f"  logistic regression on D's features: {100 * r['features_error']:.2f}% test error")
    if "supervised_error" in r:
        print(
            f"  supervised only (D's architecture):  {100 * r['supervised_error']:.2f}% test error"
        )
    out = (
        Path(r["run"])
        / "classify"
        / f"{r['checkpoint']}-labels-{r['labels_per_class']}-seed-{r['label_seed']}.json"
    )
    atomic_write_text(out, json.dumps(r, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from advnets import checkpoint
    from advnets.errors import CheckpointNotFound
    from advnets.run import Run

    folder = Run(args.run).require("summarise it")
    run = folder.root
    config = folder.config()
    rows = folder.metrics()
    d, g, t, o = config.data, config.generator, config.train, config.optim
    print(f"run:        {run}")
    print(f"data:       {d.source}" + (f" ({d.path})" if d.path else ""))
    bn = ", batch norm" if g.batch_norm else ""
    print(
        f"generator:  {g.kind}: z {g.noise_dim} ({g.prior}) -> {' -> '.join(map(str, g.hidden))} "
        f"({g.activation}{bn}) -> {g.output}"
    )
    dc = config.discriminator
    units = (
        f"maxout {' -> '.join(f'{h}x{dc.pieces}' for h in dc.hidden)}"
        if dc.unit == "maxout"
        else f"{dc.unit} {' -> '.join(map(str, dc.hidden))}"
    )
    outputs = "one logit per class" if config.semi.labels_per_class else "1"
    norms = [
        n
        for n, on in (
            ("batch norm", dc.batch_norm),
            ("spectral norm", dc.spectral_norm),
            ("weight norm", dc.weight_norm),
            (f"packs of {dc.pack}", dc.pack > 1),
        )
        if on
    ]
    print(
        f"discrim.:   {dc.kind}: {units} -> {outputs}, keep {dc.input_keep}/{dc.hidden_keep}"
        + "".join(f", {n}" for n in norms)
    )
    p = config.penalty
    if p.gradient or p.r1:
        print(
            "penalties:  "
            + ", ".join(f"{n} {v}" for n, v in (("gradient", p.gradient), ("r1", p.r1)) if v)
        )
    aux = (
        f" + auxiliary classifier ({config.condition.auxiliary_weight})"
        if config.condition.auxiliary_weight
        else ""
    )
    extensions = [
        f"condition {config.condition.kind}{aux}" if config.condition.kind != "none" else "",
        f"{config.semi.labels_per_class} labels per class" if config.semi.labels_per_class else "",
        f"encoder {config.encoder.kind}" if config.encoder.kind != "none" else "",
    ]
    if any(extensions):
        print(f"section 7:  {', '.join(e for e in extensions if e)}")
    print(
        f"training:   {t.update} updates, k = {t.k}, {t.objective}, {o.name} lr {o.lr}, batch "
        f"{t.batch_size}, "
        f"seed {t.seed}, {t.epochs} epochs"
        + (f" / {t.max_steps} steps" if t.max_steps else "")
        + f", {t.device} {t.precision}"
    )
    try:
        latest = folder.latest_checkpoint()
        meta = checkpoint.read_state(latest)
        extra = [
            f"{meta['world_size']} processes" if meta.get("world_size", 1) > 1 else "",
            f"{meta['skipped_updates']} non-finite updates skipped"
            if meta.get("skipped_updates")
            else "",
        ]
        print(
            f"checkpoint: {latest.name} (step {meta['step']}, epoch {meta['epoch']:.2f}"
            + "".join(f", {e}" for e in extra if e)
            + ")"
        )
    except CheckpointNotFound:
        print("checkpoint: none yet")
    if rows:
        last = rows[-1]
        print(
            f"last log:   step {last['step']}: D loss {last['d_loss']:.4f}, G loss "
            f"{last['g_loss']:.4f}, "
            f"D(x) {last['d_real']:.3f}, D(G(z)) {last['d_fake']:.3f}, {last['images_per_s']:.0f} "
            "images/s"
        )
    samples = folder.sample_grids()
    print(f"samples:    {len(samples)} grids" + (f", latest {samples[-1]}" if samples else ""))
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    for name in cfgmod.preset_names():
        print(name)
    return 0


class Parser(argparse.ArgumentParser):
    """argparse without abbreviations: --train.epoch is an unknown key, not --train.epochs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="advnets", description="Generative Adversarial Nets (Goodfellow et al., 2014)"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("train", help="train G and D with Algorithm 1 (or continue a run)")
    p.add_argument("--preset", help=f"a named setting: {', '.join(cfgmod.preset_names())}")
    p.add_argument("--config", help="a TOML file of fields, merged over the preset")
    p.add_argument("--out", help="the run folder to create (default runs/PRESET-TIME)")
    _add_data_dir_flag(p)
    p.add_argument(
        "--data",
        metavar="PATH",
        help="train on your data: a folder of images, a .npy/.npz array, or "
        "CIFAR-10's folder of .bin files (without --preset: a DCGAN of about 15,000 steps)",
    )
    p.add_argument(
        "--resume", metavar="RUN_DIR", help="continue this run from its latest checkpoint"
    )
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (short for --train.device)")
    p.add_argument(
        "--dry-run", action="store_true", help="print the resolved config as TOML and exit"
    )
    _add_progress_flag(p)
    _add_config_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="draw samples from a trained generator")
    p.add_argument(
        "path",
        help="a run folder (its latest checkpoint), a checkpoint folder, or a generator file "
        "(advnets export)",
    )
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    _add_seed_flag(p)
    p.add_argument("--out", help="PNG to write: an image grid, or a scatter plot for point data")
    p.add_argument("--npy", help="NumPy .npy file to write the samples to")
    p.add_argument("--nrow", type=int, default=None, help="images per row of the grid")
    p.add_argument(
        "--label",
        type=int,
        default=None,
        help="a conditional model's class to sample (default: classes drawn as in the training "
        "data)",
    )
    _add_truncation_flag(p)
    _add_last_iterate_flag(p)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser(
        "export",
        help="write a run's generator to one file: sampled with no run folder and no trainer",
        description="Write the generator of a run (its latest checkpoint), a checkpoint folder "
        "or a generator file to one file: with --format advnets, safetensors weights and a JSON "
        "model card (architecture, config, data set and licence, step, evaluation records, "
        "SHA-256), read by `advnets sample`, `advnets serve` and advnets.load_generator; with "
        "--format onnx, an ONNX graph from the noise (and classes) to the samples.",
    )
    p.add_argument("source", help="a run folder, a checkpoint folder or a generator file")
    p.add_argument("--out", required=True, help="the file to write (e.g. g.advnets, g.onnx)")
    p.add_argument(
        "--format",
        choices=("advnets", "onnx"),
        default="advnets",
        help="advnets (default: safetensors and a model card) or onnx (the onnx extra)",
    )
    _add_last_iterate_flag(p)
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "serve",
        help="a local web page over runs: curves, sample grids, a generator to play with",
        description="Serve a read-only web page over a folder of runs and generator files (or "
        "one run folder or one generator file): the runs and their evaluation records, "
        "training curves, the sample grids through training, samples drawn on request (seed, "
        "truncation, class), interpolations, nearest training images, two runs compared. "
        "Needs the web extra. Ctrl-C stops it.",
    )
    p.add_argument("path", nargs="?", default="runs", help="a folder of runs (default runs)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it "
        "to the network)",
    )
    p.add_argument("--port", type=int, default=8000, help="the port (default 8000)")
    _add_data_dir_flag(p)
    p.set_defaults(func=cmd_serve)

    from advnets.evaluate import METRICS

    p = sub.add_parser(
        "evaluate",
        help="measure samples: Parzen log-likelihood, classifier FID/KID/PR/score",
        description="Measure a run's latest checkpoint (or a checkpoint folder) and record the "
        "result in RUN/evaluation.json. Defaults: the paper's Parzen protocol. Metrics: "
        + "; ".join(f"{name}: {m.help}" for name, m in METRICS.items()),
    )
    p.add_argument(
        "run",
        nargs="?",
        help="a run folder or checkpoint folder (omit with --reference --data SOURCE)",
    )
    p.add_argument(
        "--metric",
        default="parzen",
        help=f"comma-separated: {', '.join(METRICS)}; or all "
        f"({', '.join(n for n, m in METRICS.items() if m.in_all)}); default parzen",
    )
    p.add_argument(
        "--reference",
        action="store_true",
        help="score the first SAMPLES training images instead of samples of G (the data's own row)",
    )
    p.add_argument(
        "--data", help="data source for --reference without a run (mnist, fashion-mnist, ...)"
    )
    _add_data_dir_flag(p)
    p.add_argument(
        "--samples", type=int, default=10_000, help="samples drawn from G (default 10000)"
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="noise seed of the samples and of KID's subsets (default 0)",
    )
    p.add_argument(
        "--split",
        default="test",
        choices=("train", "valid", "test"),
        help="the data the samples are compared with (default test)",
    )
    p.add_argument(
        "--split-start", type=int, default=0, help="first row of the split used (default 0)"
    )
    p.add_argument(
        "--split-rows",
        type=int,
        default=None,
        help="use N rows of the split from there (default: all)",
    )
    p.add_argument(
        "--sigmas", help="Parzen widths tried: 0.1,0.2,... or logspace:-1,0,10 (the default)"
    )
    p.add_argument(
        "--valid-rows",
        type=int,
        default=1000,
        help="validation images that choose sigma (default 1000)",
    )
    p.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default 100)")
    p.add_argument(
        "--kid-subset-size", type=int, default=1000, help="KID subset size (default 1000)"
    )
    p.add_argument("--pr-k", type=int, default=3, help="neighbours of precision/recall (default 3)")
    p.add_argument(
        "--memory-mb",
        type=int,
        default=256,
        help="memory budget of the Parzen blocks (default 256)",
    )
    p.add_argument(
        "--mode-samples",
        type=int,
        default=2500,
        help="samples whose modes are counted (default 2500)",
    )
    p.add_argument("--out", help="also write the result as JSON to this file")
    p.add_argument(
        "--no-write",
        action="store_true",
        help="do not record the result in the run's evaluation.json",
    )
    _add_truncation_flag(p)
    _add_last_iterate_flag(p)
    _add_progress_flag(p)
    p.set_defaults(func=cmd_evaluate)

    from advnets.figures.catalogue import FIGURES, PAPER_NAMES

    p = sub.add_parser(
        "figure",
        help="draw one of the paper's figures from a run",
        description="Figures: " + "; ".join(f"{k}: {v.description}" for k, v in FIGURES.items()),
    )
    p.add_argument(
        "name",
        choices=[*FIGURES, *PAPER_NAMES],
        metavar="NAME",
        help=f"{', '.join(FIGURES)} (or {', '.join(PAPER_NAMES)})",
    )
    _add_run_argument(p)
    p.add_argument("--out", help="PNG to write (default RUN/figures/NAME.png)")
    _add_seed_flag(p)
    p.add_argument("--rows", type=int, default=6, help="rows of images (default 6)")
    p.add_argument("--cols", type=int, default=8, help="columns of images (default 8)")
    p.add_argument("--steps", help="toy1d: the training steps to draw, e.g. 500,1000,2000,5000")
    p.add_argument(
        "--samples",
        type=int,
        default=2500,
        help="modes: samples drawn (default 2500, the protocol's)",
    )
    _add_data_dir_flag(p)
    p.add_argument(
        "--label",
        type=int,
        default=None,
        help="neighbours, interpolation: a conditional model's class (default: drawn as in the "
        "data)",
    )
    _add_last_iterate_flag(p)
    p.set_defaults(func=cmd_figure)

    p = sub.add_parser(
        "theory",
        help="check section 4's theory on a gaussian-1d run",
        description="Proposition 1 (D trained against the frozen G vs D*), Theorem 1 (V vs "
        "-log 4 + 2 JSD), W1/KS of p_g against p_data, and the early G gradients of "
        "the minimax and non-saturating objectives; writes RUN/theory/.",
    )
    p.add_argument("run", help="a gaussian-1d run folder or checkpoint folder")
    p.add_argument("--out", help="folder for theory.json and theory.png (default RUN/theory)")
    p.add_argument(
        "--d-steps", type=int, default=3000, help="steps of the fresh discriminator (default 3000)"
    )
    p.add_argument(
        "--objective-steps",
        type=int,
        default=300,
        help="steps of each objective's run (default 300)",
    )
    _add_seed_flag(p)
    p.set_defaults(func=cmd_theory)

    from advnets.inpaint import MASKS

    p = sub.add_parser(
        "inpaint",
        help="complete partly hidden images by searching G's noise (section 7)",
        description="Hide part of each image, find z whose G(z) fits the visible pixels, fill the "
        "hidden ones from G(z), and measure the classifier's accuracy on the results. "
        "Masks: " + "; ".join(f"{k}: {v}" for k, v in MASKS.items()),
    )
    _add_run_argument(p)
    p.add_argument(
        "--mask",
        default="bottom",
        choices=list(MASKS),
        help="which pixels are hidden (default bottom)",
    )
    p.add_argument(
        "-n",
        type=int,
        default=1000,
        help="images completed, from the start of the split (default 1000)",
    )
    p.add_argument(
        "--split", default="test", choices=("train", "valid", "test"), help="(default test)"
    )
    p.add_argument("--steps", type=int, default=300, help="Adam steps on z (default 300)")
    p.add_argument(
        "--restarts",
        type=int,
        default=8,
        help="starting points per image; the best fit wins (default 8)",
    )
    p.add_argument("--lr", type=float, default=0.05, help="Adam's step size on z (default 0.05)")
    p.add_argument(
        "--realism",
        type=float,
        default=0.0,
        help="weight of -log D(G(z)) in the search (default 0)",
    )
    _add_seed_flag(p)
    p.add_argument("--cols", type=int, default=10, help="images in the figure (default 10)")
    p.add_argument("--out", help="folder for MASK.png and MASK.json (default RUN/inpaint)")
    _add_data_dir_flag(p)
    _add_progress_flag(p)
    _add_last_iterate_flag(p)
    p.set_defaults(func=cmd_inpaint)

    p = sub.add_parser(
        "encoder",
        help="fit an inference network E(x) -> z to a trained G (section 7)",
        description="Fit E by regression on pairs (G(z), z) with G frozen, measure the R^2 of z "
        "recovered from G(z) and the 1-nearest-neighbour label accuracy of E(x) on the "
        "test images; writes RUN/encoder/.",
    )
    _add_run_argument(p)
    p.add_argument("--steps", type=int, default=10_000, help="Adam steps (default 10000)")
    p.add_argument("--batch", type=int, default=100, help="pairs per step (default 100)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (default 0.001)")
    p.add_argument(
        "--hidden", default="1200,1200", help="E's hidden layer widths (default 1200,1200)"
    )
    _add_seed_flag(p)
    _add_data_dir_flag(p)
    _add_progress_flag(p)
    _add_last_iterate_flag(p)
    p.set_defaults(func=cmd_encoder)

    p = sub.add_parser("encode", help="write E(x) of a split's images, E the run's fitted encoder")
    p.add_argument("run", help="a run folder with a fitted encoder (advnets encoder)")
    p.add_argument("--npy", required=True, help="NumPy .npy file to write the codes to")
    p.add_argument(
        "--split", default="test", choices=("train", "valid", "test"), help="(default test)"
    )
    p.add_argument("-n", type=int, default=None, help="the first N images only (default all)")
    _add_data_dir_flag(p)
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser(
        "classify",
        help="semi-supervised classification from a run's D (section 7)",
        description="Test error of a semi-supervised run's D, of logistic regression on any run's "
        "D features, and of D's architecture trained on the labelled images alone, all "
        "from the same class-balanced labelled training images; writes RUN/classify/.",
    )
    _add_run_argument(p)
    p.add_argument(
        "--labels-per-class",
        type=int,
        default=None,
        help="labelled images per class (default: the run's semi.labels_per_class, else 10)",
    )
    p.add_argument(
        "--label-seed",
        type=int,
        default=None,
        help="the draw of labelled images (default: the run's)",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the supervised-only baseline")
    p.add_argument(
        "--baseline-steps", type=int, default=3000, help="Adam steps of the baseline (default 3000)"
    )
    p.add_argument(
        "--last-iterate",
        action="store_true",
        help="the trained D throughout, not the average of its weights (average.discriminator)",
    )
    _add_data_dir_flag(p)
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("info", help="summarise a run")
    p.add_argument("run", help="a run folder")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("presets", help="list the named presets")
    p.set_defaults(func=cmd_presets)
    for name, command in sub.choices.items():
        if name != "presets":
            command.add_argument(
                "--allow-unverified",
                action="store_true",
                help="read a checkpoint that has no manifest.json, unchecked (a warning names it)",
            )
    return parser


def _reject_unknown(parser: argparse.ArgumentParser, unknown: list[str]) -> None:
    """An unknown --section.field flag gets the config's error, which lists the valid keys."""
    for arg in unknown:
        key = arg[2:].split("=", 1)[0]
        if arg.startswith("--") and "." in key:
            sec, name = key.split(".", 1)
            cfgmod.apply(cfgmod.Config(), {sec: {name: None}}, source="command line")
    parser.error(f"unrecognized arguments: {' '.join(unknown)}")


def main(argv: list[str] | None = None) -> int:
    """Run one command. An `AdvnetsError` (something the user can mend) and an OSError (a full
    disk, a missing permission) print as one line; any other exception is a bug, and keeps its
    traceback. Ctrl-C, even while advnets starts, ends it with the shell's status 130."""
    import warnings

    shown, warnings.showwarning = warnings.showwarning, _show_warning
    try:
        from advnets import checkpoint
        from advnets.errors import AdvnetsError
        from advnets.train.signals import Interrupted

        parser = build_parser()
        args, unknown = parser.parse_known_args(argv)
        try:
            if unknown:
                _reject_unknown(parser, unknown)
            checkpoint.allow_unverified = getattr(args, "allow_unverified", False)
            status = args.func(args)
            sys.stdout.flush()  # here, where a closed pipe is still ours to handle
            return status
        except AdvnetsError as err:
            print(f"advnets: error: {err}", file=sys.stderr)
            return err.exit_code
        except BrokenPipeError:
            return _closed_pipe()
        except OSError as err:
            print(f"advnets: error: {err}", file=sys.stderr)
            return 1
        except Interrupted as err:
            print(f"\nadvnets: {err}", file=sys.stderr)
            return 128 + err.signum  # the shell's convention for a process ended by that signal
    except KeyboardInterrupt as err:  # a bare Ctrl-C has no message
        print(f"\nadvnets: {str(err) or 'interrupted'}", file=sys.stderr)
        return 130
    finally:  # as it was for whoever called main() in this process
        warnings.showwarning = shown
        if "advnets.checkpoint" in sys.modules:
            sys.modules["advnets.checkpoint"].allow_unverified = False


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"advnets: warning: {message}", file=sys.stderr)


def _closed_pipe() -> int:
    """The reader of the output went away (`advnets ... | head`): stop quietly, as Unix tools do.
    Python would otherwise complain again when it flushes stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141  # 128 + SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
