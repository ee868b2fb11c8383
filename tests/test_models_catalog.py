"""Model catalog: registry names map to the official Hub files; downloads fail with an actionable message."""

from __future__ import annotations

import types
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import errors as hub_errors

from app import models_catalog as mc
from sam3core.factory import SAM2_MODELS, SAM3_MODELS


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MASKLET_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MASKLET_MODELS_DIR", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path / "home" / "data" / "models"


@pytest.fixture
def hub_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the Hub's name resolves, so the call reaches the (mocked) Hub client."""
    monkeypatch.setattr(mc, "_offline_reason", lambda: None)


def _fail_if_called(*args: object, **kwargs: object) -> None:
    raise AssertionError("the Hub client must not be called")


def test_catalog_covers_every_sam_engine_with_the_official_repos() -> None:
    assert set(mc.CATALOG) == set(SAM2_MODELS) | set(SAM3_MODELS)
    tiny = mc.CATALOG["sam2.1_hiera_tiny"]
    assert (tiny.repo_id, tiny.filename) == ("facebook/sam2.1-hiera-tiny", "sam2.1_hiera_tiny.pt")
    bplus = mc.CATALOG["sam2.1_hiera_base_plus"]
    assert (bplus.repo_id, bplus.filename) == ("facebook/sam2.1-hiera-base-plus", "sam2.1_hiera_base_plus.pt")
    sam3 = mc.CATALOG["sam3"]
    assert (sam3.repo_id, sam3.filename, sam3.gated) == ("facebook/sam3", "sam3.pt", True)
    assert not any(s.gated for n, s in mc.CATALOG.items() if n != "sam3")
    assert tiny.file_url == "https://huggingface.co/facebook/sam2.1-hiera-tiny/resolve/main/sam2.1_hiera_tiny.pt"


def test_unknown_name_is_a_clear_error(models: Path) -> None:
    with pytest.raises(mc.ModelDownloadError, match="sam2.1_hiera_tiny"):
        mc.download_model("sam9000")


def test_hf_hub_offline_fails_at_once_with_instructions(models: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fail_if_called)
    with pytest.raises(mc.ModelDownloadError) as info:
        mc.download_model("sam2.1_hiera_small")
    message = str(info.value)
    assert "HF_HUB_OFFLINE" in message
    assert "https://huggingface.co/facebook/sam2.1-hiera-small/resolve/main/sam2.1_hiera_small.pt" in message
    assert str(models) in message, "the message must say where to put a hand-downloaded file"
    assert not (models / "sam2.1_hiera_small.pt").exists()


def test_unresolvable_hub_fails_fast_without_retries(models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> None:
        raise mc.socket.gaierror(-2, "Name or service not known")

    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(mc.socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fail_if_called)
    with pytest.raises(mc.ModelDownloadError, match="no network.*huggingface.co"):
        mc.download_model("sam2.1_hiera_tiny")


def test_client_offline_error_is_translated(models: Path, hub_resolves: None,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise hub_errors.LocalEntryNotFoundError("cannot find the requested files in the local cache")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(mc.ModelDownloadError, match="cannot reach the Hugging Face Hub") as info:
        mc.download_model("sam2.1_hiera_large")
    assert isinstance(info.value.__cause__, hub_errors.LocalEntryNotFoundError)
    assert "sam2.1_hiera_large.pt" in str(info.value)


def test_gated_sam3_says_how_to_get_access(models: Path, hub_resolves: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    response = types.SimpleNamespace(headers={}, request=None)

    def gated(*args: object, **kwargs: object) -> None:
        raise hub_errors.GatedRepoError("403 Client Error: access to model facebook/sam3 is restricted",
                                        response=response)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", gated)
    with pytest.raises(mc.ModelDownloadError) as info:
        mc.download_model("sam3")
    message = str(info.value)
    assert "gated" in message and "https://huggingface.co/facebook/sam3" in message
    assert "hf auth login" in message and "HF_TOKEN" in message


def test_connection_error_is_translated(models: Path, hub_resolves: None,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refused)
    with pytest.raises(mc.ModelDownloadError, match="Connection refused"):
        mc.download_model("sam2.1_hiera_tiny")


def test_successful_download_lands_in_models_dir_and_reports_progress(
        models: Path, hub_resolves: None, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: dict[str, object] = {}
    size = 3_500_000_000  # SAM 3's size: byte counts beyond 32-bit ints must not reach the callback

    def fake_download(repo_id: str, filename: str, *, local_dir: Path, tqdm_class: type | None = None,
                      **kwargs: object) -> str:
        # Behaves like the client: a progress bar over the bytes, then the file in local_dir.
        calls.update(repo_id=repo_id, filename=filename)
        assert tqdm_class is not None
        bar = tqdm_class(total=size, unit="B", unit_scale=True, desc=filename)
        for _ in range(4):
            bar.update(size // 4)
        bar.close()
        target = Path(local_dir) / filename
        target.write_bytes(b"\0" * 1000)
        return str(target)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    seen: list[tuple[int, int]] = []
    path = mc.download_model("sam3", progress=lambda done, total: seen.append((done, total)))
    assert path == models / "sam3.pt" and path.stat().st_size == 1000
    assert calls == {"repo_id": "facebook/sam3", "filename": "sam3.pt"}
    kib = (size + 1023) // 1024
    assert seen == [(k * (size // 4) // 1024, kib) for k in range(1, 5)]
    assert all(v < 2**31 for pair in seen for v in pair)
    # Present now: a second call needs no network at all.
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fail_if_called)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert mc.download_model("sam3") == path


def test_an_exception_from_the_progress_callback_reaches_the_caller_unchanged(
        models: Path, hub_resolves: None, monkeypatch: pytest.MonkeyPatch) -> None:
    class CancelledError(Exception):
        pass

    def fake_download(repo_id: str, filename: str, *, tqdm_class: type, **kwargs: object) -> str:
        bar = tqdm_class(total=10_000_000)
        bar.update(1_000_000)
        raise AssertionError("the download must stop at the callback's exception")

    def cancel(done: int, total: int) -> None:
        raise CancelledError()

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    with pytest.raises(CancelledError):
        mc.download_model("sam2.1_hiera_tiny", progress=cancel)
    assert not (models / "sam2.1_hiera_tiny.pt").exists()


def _official_layout_checkpoint(path: Path, name: str) -> Path:
    """A tiny file in the official ``{"model": state_dict}`` layout carrying the keys and shapes that
    identify ``name`` (Hiera trunk patch embedding and blocks for SAM 2.1, tracker/detector for SAM 3)."""
    import torch

    from sam3core.sam.network_config import SAM2_CONFIGS

    if name == "sam3":
        sd = {"tracker.maskmem_tpos_enc": torch.zeros(7, 1, 1, 64),
              "detector.backbone.vision_backbone.trunk.pos_embed": torch.zeros(1, 4, 8)}
    else:
        hiera = SAM2_CONFIGS[name].hiera
        sd = {"image_encoder.trunk.patch_embed.proj.weight": torch.zeros(hiera.embed_dim, 3, 7, 7)}
        for block in range(sum(hiera.stages)):
            sd[f"image_encoder.trunk.blocks.{block}.norm1.weight"] = torch.ones(4)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": sd}, path)
    return path


def test_scan_finds_checkpoints_by_content_not_by_name(models: Path) -> None:
    pytest.importorskip("sam3core.sam.checkpoint")
    small = _official_layout_checkpoint(models / "renamed.pt", "sam2.1_hiera_small")
    large = _official_layout_checkpoint(models / "sam2" / "weights.pth", "sam2.1_hiera_large")
    sam3 = _official_layout_checkpoint(models / "sam3.pt", "sam3")
    (models / "broken.pt").write_bytes(b"this is not a checkpoint")
    (models / "notes.txt").write_text("not scanned")
    # Named like a tiny checkpoint, but holds a large one: content wins.
    lying = _official_layout_checkpoint(models / "sam2.1_hiera_tiny.pt", "sam2.1_hiera_large")
    found = dict(mc.scan_models_dir())
    assert found == {small: "sam2.1_hiera_small", large: "sam2.1_hiera_large", sam3: "sam3",
                     lying: "sam2.1_hiera_large"}
    assert (models / "broken.pt").exists(), "a bad file is skipped, never deleted"


def test_scan_of_an_empty_or_missing_folder(models: Path, tmp_path: Path) -> None:
    pytest.importorskip("sam3core.sam.checkpoint")
    assert mc.scan_models_dir() == []
    assert mc.scan_models_dir(tmp_path / "nowhere") == []
