"""The FID Inception network: strict loading from a local file, never a download."""

from pathlib import Path

import pytest
import torch

from pix2pix.errors import ConfigError
from pix2pix.evaluation.inception import FIDInceptionV3, check_state_dict, load_fid_inception


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(FIDInceptionV3().state_dict(), path)
    return path


def test_loads_a_file_with_every_key_and_gives_2048_features(weights_file: Path):
    net = load_fid_inception(weights_file)
    with torch.no_grad():
        features = net(torch.rand(2, 3, 64, 48))
    assert features.shape == (2, 2048) and torch.isfinite(features).all()


def test_first_mismatch_is_named(weights_file: Path, tmp_path: Path):
    state = torch.load(weights_file, weights_only=True)
    expected = FIDInceptionV3().state_dict()
    missing = dict(state)
    del missing["Mixed_6b.branch7x7_2.conv.weight"]
    with pytest.raises(ConfigError, match="missing 'Mixed_6b.branch7x7_2.conv.weight'"):
        check_state_dict(expected, missing, "w.pth")
    wrong = dict(state)
    wrong["fc.weight"] = torch.zeros(1000, 2048)
    with pytest.raises(ConfigError, match=r"'fc.weight' has shape \(1000, 2048\), expected \(1008, 2048\)"):
        check_state_dict(expected, wrong, "w.pth")
    extra = dict(state, **{"AuxLogits.fc.weight": torch.zeros(1)})
    with pytest.raises(ConfigError, match="unexpected key 'AuxLogits.fc.weight'"):
        check_state_dict(expected, extra, "w.pth")
    no_counters = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    check_state_dict(expected, no_counters, "w.pth")  # older files lack them: fine


def test_no_weights_is_a_clear_error(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("PIX2PIX_FID_WEIGHTS", raising=False)
    with pytest.raises(ConfigError, match="pt_inception-2015-12-05-6726825d.pth.*--fid-weights.*PIX2PIX_FID_WEIGHTS"):
        load_fid_inception(None)
    with pytest.raises(ConfigError, match="file not found"):
        load_fid_inception(tmp_path / "nope.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not torch")
    with pytest.raises(ConfigError, match="not a readable weights file"):
        load_fid_inception(junk)


def test_env_variable_is_used(monkeypatch, weights_file: Path):
    monkeypatch.setenv("PIX2PIX_FID_WEIGHTS", str(weights_file))
    assert isinstance(load_fid_inception(None), FIDInceptionV3)
