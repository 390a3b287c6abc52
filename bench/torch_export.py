"""The torch half of `torch_models.py`: export its models to ONNX with both of torch's exporters.

Needs torch and torchvision (and onnxscript for the dynamo exporter), which
npuc itself never imports; `torch_models.py` runs this file in a separate
process with the Python that has them, so its npuc half runs on the cached
exports without torch. Every model is built with random weights from a fixed
seed, in eval mode, and exported twice: by `torch.onnx.export` (the
TorchScript exporter, opset 17) as `NAME.torchscript.onnx` and by the dynamo
exporter (opset 18) as `NAME.dynamo.onnx`. An export that fails writes
`NAME.EXPORTER.error` with its one-line reason instead.

    python bench/torch_export.py CACHE_DIR [--models a,b] [--exporters torchscript,dynamo] [--force]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

SEED = 0
EXPORTERS = {"torchscript": 17, "dynamo": 18}
"""Exporter name -> the opset it exports at."""

TORCHVISION_MODELS = (
    "resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "squeezenet1_1",
    "shufflenet_v2_x0_5", "regnet_x_400mf", "mnasnet0_5",
)  # fmt: skip
IMAGE_SHAPE = (1, 3, 224, 224)


class KeywordSpotting(nn.Module):
    """A 1-D keyword-spotting CNN over 40 MFCCs x 49 frames: three Conv1d/BatchNorm1d/ReLU, a pool and a classifier."""

    def __init__(self, features: int = 40, channels: int = 64, classes: int = 12):
        super().__init__()
        layers: list[nn.Module] = []
        width = features
        for stride in (1, 2, 1):
            layers += [nn.Conv1d(width, channels, 3, stride=stride, padding=1), nn.BatchNorm1d(channels), nn.ReLU()]
            width = channels
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.classifier = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


class EncoderBlock(nn.Module):
    """A pre-norm transformer block: multi-head self-attention and a GELU MLP, each with a residual.

    The attention is written out (linear, reshape, matmul, softmax, matmul) so
    both exporters see plain operators rather than torch's fused kernels.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 2):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.projection = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        head_dim = dim // self.heads
        qkv = self.qkv(self.norm1(x)).reshape(batch, tokens, 3, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attention = torch.softmax(q @ k.transpose(-2, -1) * head_dim**-0.5, dim=-1)
        mixed = (attention @ v).transpose(1, 2).reshape(batch, tokens, dim)
        x = x + self.projection(mixed)
        return x + self.mlp(self.norm2(x))


class SmallViT(nn.Module):
    """A small vision transformer: 16x16 patches of a 64x64 image, dim 64, depth 2, 2 heads, a class token."""

    def __init__(self, image: int = 64, patch: int = 16, dim: int = 64, depth: int = 2, heads: int = 2,
                 classes: int = 10):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.position = nn.Parameter(torch.randn(1, (image // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), tokens], dim=1) + self.position
        return self.head(self.norm(self.blocks(tokens))[:, 0])


def build(name: str) -> tuple[nn.Module, tuple[int, ...]]:
    """The model `name` with seeded random weights, in eval mode, and its input shape."""
    torch.manual_seed(SEED)
    if name == "kws_cnn":
        return KeywordSpotting().eval(), (1, 40, 49)
    if name == "small_vit":
        return SmallViT().eval(), (1, 3, 64, 64)
    import torchvision

    return torchvision.models.get_model(name, weights=None).eval(), IMAGE_SHAPE


MODELS = (*TORCHVISION_MODELS, "kws_cnn", "small_vit")


def export(model: nn.Module, shape: tuple[int, ...], exporter: str, path: Path) -> None:
    """Export `model` on a seeded input of `shape` with `exporter` into `path` (one self-contained file)."""
    example = (torch.randn(*shape, generator=torch.Generator().manual_seed(SEED)),)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if exporter == "torchscript":
            torch.onnx.export(model, example, str(path), opset_version=EXPORTERS[exporter], dynamo=False,
                              input_names=["input"], output_names=["output"])
        else:
            program = torch.onnx.export(model, example, dynamo=True, opset_version=EXPORTERS[exporter],
                                        input_names=["input"], output_names=["output"], verbose=False)
            program.save(str(path), external_data=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--exporters", default=",".join(EXPORTERS))
    parser.add_argument("--force", action="store_true", help="export again even when the cache has the file")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    for name in args.models.split(","):
        for exporter in args.exporters.split(","):
            path = args.cache / f"{name}.{exporter}.onnx"
            error = path.with_suffix(".error")
            if path.is_file() and not args.force:
                continue
            error.unlink(missing_ok=True)
            try:
                model, shape = build(name)
                export(model, shape, exporter, path)
                print(f"exported {path.name}", flush=True)
            except Exception as failure:  # every failure becomes the model's row
                path.unlink(missing_ok=True)
                reason = " ".join(f"{type(failure).__name__}: {failure}".split())[:300]
                error.write_text(reason + "\n")
                print(f"failed {path.name}: {reason}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
