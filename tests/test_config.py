from pathlib import Path

import pytest

from pix2pix.methods import resolve
from pix2pix.config import (
    PRESETS,
    RESUMABLE_KEYS,
    Config,
    ConfigError,
    changed_keys,
    load_config,
    read_toml,
    to_toml,
)


def test_defaults_are_the_paper_plus_the_measured_recipe():
    cfg = resolve(Config())
    assert (cfg.train.lr_g, cfg.train.lr_d, cfg.train.beta1) == (2e-4, 2e-4, 0.5)
    assert cfg.loss.lambda_l1 == 100
    assert (cfg.data.load_size, cfg.data.crop_size, cfg.data.flip) == (286, 256, True)
    assert (cfg.train.n_epochs, cfg.train.n_epochs_decay) == (100, 100)
    # pix2pix "auto" keys: the paper's networks, with the recipe measured best (benchmarks/results/recipe.md)
    assert (cfg.model.generator, cfg.model.norm, cfg.model.dropout) == ("unet", "batch", 0.5)
    assert (cfg.loss.gan_mode, cfg.model.upsample, cfg.train.ema_decay) == ("lsgan", "pixel_shuffle_outer", 0.999)


def test_cyclegan_auto_defaults():
    cfg = resolve(load_config(None, ["model.method=cyclegan"]))
    assert (cfg.model.generator, cfg.model.norm, cfg.model.dropout, cfg.loss.gan_mode) == ("resnet_9blocks", "instance", 0.0, "lsgan")
    assert (cfg.options.lambda_a, cfg.options.lambda_b, cfg.options.lambda_identity, cfg.options.pool_size) == (10, 10, 0.5, 50)


def test_set_overrides_are_typed():
    cfg = load_config(None, ["train.max_steps=20", "data.flip=false", "loss.lambda_l1=50", "data.direction=BtoA"])
    assert cfg.train.max_steps == 20 and cfg.data.flip is False and cfg.loss.lambda_l1 == 50.0
    assert cfg.data.direction == "BtoA"


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.max_step=3", "valid in train:"),
        ("trian.max_steps=3", "unknown config section 'trian'"),
        ("cyclegan.pool_size=3", r"\[cyclegan\] holds options of the cyclegan method, and model.method is pix2pix"),
        ("pix2pix.lambda_l1_decay_steps=0", "pix2pix.lambda_l1_decay_steps: must be >= 1"),
        ("pix2pix.lambda_l1_fnal=3", "unknown key 'pix2pix.lambda_l1_fnal'"),
        ("train.max_steps=abc", "not an integer"),
        ("train.max_steps=-1", "train.max_steps"),
        ("data.direction=AtoC", "not one of AtoB, BtoA"),
        ("data.flip=maybe", "not a boolean"),
        ("train.lr_g=nan", "finite"),
        ("train.batch_size=0", "train.batch_size"),
        ("data.crop_size=300", "larger than data.load_size"),
        ("max_steps=3", "section.key=value"),
        ("train.max_steps", "section.key=value"),
    ],
)
def test_bad_overrides_name_the_option(override, message):
    """Checked by the time the config is resolved (a method's own section: only then, by the method)."""
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        resolve(load_config(None, [override]))
    assert "\n" not in str(info.value)


def test_toml_round_trip(tmp_path: Path):
    cfg = load_config(None, ["train.max_steps=7", "model.ngf=16", "data.direction=BtoA"])
    path = tmp_path / "c.toml"
    path.write_text(to_toml(cfg))
    again = load_config(path)
    assert again == cfg
    assert changed_keys(cfg, again) == []


def test_toml_file_then_set(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nmax_steps = 5\nbatch_size = 2\n[loss]\nlambda_l1 = 10\n")
    cfg = load_config(path, ["train.batch_size=3"])
    assert (cfg.train.max_steps, cfg.train.batch_size, cfg.loss.lambda_l1) == (5, 3, 10.0)


def test_toml_errors(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nmax_steps = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[train]\nmax_stepz = 1\n")
    with pytest.raises(ConfigError, match="train.max_stepz"):
        load_config(unknown)
    wrong_type = tmp_path / "type.toml"
    wrong_type.write_text('[train]\nmax_steps = "many"\n')
    with pytest.raises(ConfigError, match="not an integer"):
        load_config(wrong_type)
    with pytest.raises(ConfigError, match="not found"):
        read_toml(tmp_path / "missing.toml")


def test_presets_set_lambda_and_yield_to_set():
    assert load_config(preset="colorization").loss.lambda_l1 == 30
    assert load_config(preset="seg2photo").loss.lambda_l1 == 125
    assert load_config(None, ["loss.lambda_l1=60"], preset="edges2photo").loss.lambda_l1 == 60
    assert set(PRESETS) == {"paper", "seg2photo", "edges2photo", "colorization", "color_classes", "inpainting",
                            "restoration"}
    with pytest.raises(ConfigError, match="unknown preset"):
        load_config(preset="nope")


def test_a_task_only_preset_refuses_other_tasks():
    # on paired data color_classes would silently mean L1-only training
    with pytest.raises(ConfigError, match="--preset color_classes is for data.task=colorization"):
        load_config(preset="color_classes")
    cfg = load_config(None, ["data.task=colorization"], preset="color_classes")
    assert cfg.loss.lambda_gan == 0 and cfg.model.colorization_output == "bins"


def test_resumable_keys_exist():
    fields = {f"{s}.{k}" for s, section in Config().to_dict().items() for k in section}
    assert RESUMABLE_KEYS <= fields
    assert "model.ngf" not in RESUMABLE_KEYS and "train.lr_g" not in RESUMABLE_KEYS


def test_paper_preset_pins_the_papers_recipe_and_combines_with_a_task_preset():
    from pix2pix.methods import resolve

    cfg = resolve(load_config(None, ["train.ema_decay=0.99"], preset="paper"))
    pinned = {
        ("model", "generator"): "unet", ("model", "norm"): "batch", ("model", "dropout"): 0.5,
        ("model", "upsample"): "transposed", ("model", "num_d"): 1, ("model", "d_spectral_norm"): False,
        ("loss", "gan_mode"): "vanilla", ("loss", "lambda_l1"): 100.0, ("loss", "lambda_fm"): 0.0,
        ("loss", "lambda_r1"): 0.0, ("loss", "lambda_fft"): 0.0, ("loss", "lambda_spectrum"): 0.0,
        ("train", "lr_g"): 2e-4, ("train", "lr_d"): 2e-4, ("train", "beta1"): 0.5,
        ("data", "load_size"): 286, ("data", "crop_size"): 256, ("data", "flip"): True,
        ("train", "d_augment"): "none", ("train", "clip_grad_norm"): 0.0, ("inference", "norm"): "per_image",
        ("train", "batch_size"): 1, ("train", "lr_batch_scaling"): "none", ("model", "recipe"): "published",
    }
    for (section, key), value in pinned.items():
        if (section, key) != ("train", "ema_decay"):
            assert getattr(getattr(cfg, section), key) == value, f"{section}.{key}"
    assert cfg.train.ema_decay == 0.99  # --set still beats a preset
    combined = load_config(preset=["paper", "colorization"])
    assert combined.loss.lambda_l1 == 30 and combined.model.recipe == "published"


def test_a_photo_task_gets_its_preset_through_the_api_as_through_the_cli(tmp_path):
    """The CLI's --task passes data.task on to load_config, which adds the task's preset."""
    api = load_config(None, ["data.task=colorization"])
    assert api.model.colorization_output == "bins" and api.loss.lambda_gan == 0  # the color_classes preset
    assert load_config(None, ["data.task=superres"]).model.ngf == 32  # restoration
    assert load_config(None, ["data.task=colorization", "loss.lambda_gan=1"]).loss.lambda_gan == 1  # --set wins
    toml = tmp_path / "c.toml"
    toml.write_text('[data]\ntask = "edges"\n')
    assert load_config(toml).loss.lambda_l1 == 75  # edges2photo, from a config file too
    toml.write_text('[data]\ntask = "edges"\n[loss]\nlambda_l1 = 40.0\n')
    assert load_config(toml).loss.lambda_l1 == 40  # a value written in the file beats the task's preset
    assert load_config(None, []).loss.lambda_l1 == 100 and load_config(None, ["data.task=paired"]).loss.lambda_gan == 1


def test_a_saved_config_that_predates_a_key_gets_the_value_it_computed_with_not_todays_auto():
    from pix2pix.config import KEYS_ADDED, Config
    from pix2pix.methods import resolve

    saved = Config().to_dict()
    saved["model"]["upsample"] = "transposed"
    for dotted in KEYS_ADDED:
        section, key = dotted.split(".")
        del saved[section][key]  # a run written before these keys existed
    old = Config.from_saved(saved)
    assert all(getattr(getattr(old, d.split(".")[0]), d.split(".")[1]) == v for d, v in KEYS_ADDED.items())
    assert old.model.input_skip == 0
    fresh = Config.from_dict({"model": {"upsample": "transposed"}})  # a user's file: auto, the method fills it
    assert fresh.model.input_skip < 0 and resolve(fresh).model.input_skip >= 0
    assert Config.from_saved({**Config().to_dict(), "model": {**Config().to_dict()["model"], "input_skip": 8}}).model.input_skip == 8


def test_old_names_are_still_read_with_a_one_line_notice(tmp_path, capsys):
    from pix2pix.config import Config

    toml = tmp_path / "old.toml"
    toml.write_text("[model]\ncolour_temperature = 0.5\n")
    assert load_config(toml).model.color_temperature == 0.5
    assert load_config(None, ["model.colour_rebalance=0.25"]).model.color_rebalance == 0.25
    saved = Config().to_dict()
    saved["model"]["colour_temperature"] = saved["model"].pop("color_temperature")  # a run written before the rename
    saved["model"]["colour_temperature"] = 0.7
    assert Config.from_saved(saved).model.color_temperature == 0.7  # a saved run: read without a notice
    assert load_config(None, ["data.task=colorization"], preset="colour_classes").loss.lambda_gan == 0
    assert load_config(None, ["model.recipe=paper"]).model.recipe == "published"  # "paper": only the preset now
    toml.write_text('[inference]\nnorm = "paper"\n')
    assert load_config(toml).inference.norm == "per_image"
    saved["inference"]["norm"], saved["model"]["recipe"] = "paper", "paper"
    assert (Config.from_saved(saved).inference.norm, Config.from_saved(saved).model.recipe) == ("per_image", "published")
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert notes == ["note: model.colour_temperature is now called model.color_temperature (the old name still works)",
                     "note: model.colour_rebalance is now called model.color_rebalance (the old name still works)",
                     "note: colour_classes is now called color_classes (the old name still works)",
                     "note: model.recipe=paper is now called model.recipe=published (the old name still works)",
                     "note: inference.norm=paper is now called inference.norm=per_image (the old name still works)"]
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(None, ["model.colour_nonsense=1"])


def test_a_method_has_its_own_section_in_files_set_and_saved_runs(tmp_path, capsys):
    toml = tmp_path / "c.toml"
    toml.write_text('[model]\nmethod = "cyclegan"\n[cyclegan]\npool_size = 7\n')
    cfg = resolve(load_config(toml, ["cyclegan.lambda_identity=0"]))
    assert (cfg.options.pool_size, cfg.options.lambda_identity, cfg.options.lambda_a) == (7, 0.0, 10.0)
    assert "[cyclegan]\nlambda_a = 10.0\nlambda_b = 10.0\nlambda_identity = 0.0\npool_size = 7\n" in to_toml(cfg)
    assert resolve(Config.from_saved(cfg.to_dict())) == cfg  # what a run saves loads back as it was
    assert "[pix2pix]\nlambda_l1_final = -1.0" in to_toml(resolve(Config()))  # every method: its section, in full
    # --preset paper gives the method's section its paper values; a later --set still wins
    assert resolve(load_config(toml, preset="paper")).options.pool_size == 50
    assert resolve(load_config(toml, ["cyclegan.pool_size=3"], preset="paper")).options.pool_size == 3
    # old names move into the chosen method's section (a notice), and a file's keys of another method are dropped
    old = tmp_path / "old.toml"
    old.write_text('[model]\nmethod = "cyclegan"\n[train]\npool_size = 9\n[loss]\nnce_tau = 0.5\n')
    assert resolve(load_config(old)).options.pool_size == 9
    assert capsys.readouterr().err.splitlines() == [
        "note: train.pool_size is now called cyclegan.pool_size (the old name still works)",
        "note: loss.nce_tau is now called cut.nce_tau (the old name still works)",
        "note: cut.nce_tau ignored (model.method is cyclegan)"]
    saved = Config().to_dict()
    saved["loss"]["lambda_a"] = 3.0  # a run written before the sections: silently, its method's keys only
    assert resolve(Config.from_saved(saved)).options.lambda_l1_final == -1 and capsys.readouterr().err == ""


def test_resolving_makes_a_new_read_only_config_and_leaves_the_callers_alone():
    mine = load_config(None, ["model.method=cut"])
    cfg = resolve(mine)
    assert mine.model.generator == "auto" and not mine.resolved and mine.options is None  # untouched
    assert cfg.model.generator == "resnet_9blocks" and cfg.options.nce_layers == "0,4,8,12,16"
    assert resolve(cfg) is cfg
    for change in (lambda: setattr(cfg.train, "max_steps", 3), lambda: setattr(cfg.options, "nce_tau", 1.0),
                   lambda: setattr(cfg, "train", mine.train)):
        with pytest.raises(AttributeError, match="read-only"):
            change()
    copy = cfg.copy()
    copy.train.max_steps = 3  # a copy is the user's to change; its values stay the resolved ones
    assert copy.model.generator == "resnet_9blocks" and resolve(copy).train.max_steps == 3 and cfg.train.max_steps == 0


def test_every_key_the_method_fills_takes_auto_as_a_word():
    from pix2pix.config import METHOD_AUTO_KEYS

    cfg = load_config(None, [f"{key}=auto" for key in sorted(METHOD_AUTO_KEYS)] + ["model.method=cyclegan"])
    resolved = resolve(cfg)
    assert (resolved.model.dropout, resolved.model.input_skip, resolved.train.ema_decay) == (0.0, 0, 0.0)
    with pytest.raises(ConfigError, match="train.max_steps: 'auto' is not an integer"):
        load_config(None, ["train.max_steps=auto"])  # a key no method fills has no auto
