"""Robust Video Matting (MobileNetV3-Large variant) as a plain torch module.

Written here from the published architecture (Lin et al., "Robust High-Resolution Video Matting with
Temporal Guidance", WACV 2022) so that the network runs in torch on any device and in half
precision, and so that both official weight files load into one definition:

* the official ``.pth`` state dict loads directly (module names follow the official layout, which
  in turn follows torchvision's MobileNetV3);
* the official ONNX export (batch norms folded into the convolutions, anonymous initializer
  names) is mapped onto the same modules by walking its Conv nodes in execution order
  (:func:`state_dict_from_onnx`); folded convolutions get an identity batch norm carrying the bias.

The module processes one frame at a time and returns its recurrent state; the caller carries it.
Behaviour matches the ONNX export: the deep guided filter refiner always runs (at ratio 1 too).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)

# (in, kernel, expanded, out, squeeze-excite, activation, stride, dilation): MobileNetV3-Large
# with the last stage dilated instead of strided, as RVM uses it (output stride 16).
_MBV3_LARGE = (
    (16, 3, 16, 16, False, "RE", 1, 1),
    (16, 3, 64, 24, False, "RE", 2, 1),
    (24, 3, 72, 24, False, "RE", 1, 1),
    (24, 5, 72, 40, True, "RE", 2, 1),
    (40, 5, 120, 40, True, "RE", 1, 1),
    (40, 5, 120, 40, True, "RE", 1, 1),
    (40, 3, 240, 80, False, "HS", 2, 1),
    (80, 3, 200, 80, False, "HS", 1, 1),
    (80, 3, 184, 80, False, "HS", 1, 1),
    (80, 3, 184, 80, False, "HS", 1, 1),
    (80, 3, 480, 112, True, "HS", 1, 1),
    (112, 3, 672, 112, True, "HS", 1, 1),
    (112, 5, 672, 160, True, "HS", 2, 2),
    (160, 5, 960, 160, True, "HS", 1, 2),
    (160, 5, 960, 160, True, "HS", 1, 2),
)


def _divisible(v: float, divisor: int = 8) -> int:
    """Round channels as MobileNet does (the squeeze widths of the trained weights depend on it)."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def _conv_bn_act(
    cin: int,
    cout: int,
    k: int,
    stride: int = 1,
    dilation: int = 1,
    groups: int = 1,
    act: type[nn.Module] | None = nn.ReLU,
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, (k - 1) // 2 * dilation, dilation, groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        s = self.fc2(F.relu(self.fc1(s)))
        return x * F.hardsigmoid(s)


class InvertedResidual(nn.Module):
    def __init__(
        self, cin: int, k: int, exp: int, cout: int, se: bool, act: str, stride: int, dilation: int
    ):
        super().__init__()
        activation = nn.Hardswish if act == "HS" else nn.ReLU
        stride = 1 if dilation > 1 else stride
        self.residual = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if exp != cin:
            layers.append(_conv_bn_act(cin, exp, 1, act=activation))
        layers.append(_conv_bn_act(exp, exp, k, stride, dilation, groups=exp, act=activation))
        if se:
            layers.append(SqueezeExcite(exp, _divisible(exp // 4)))
        layers.append(_conv_bn_act(exp, cout, 1, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetV3Encoder(nn.Module):
    """Features at strides 2, 4, 8 and 16 (the last stage dilated)."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn_act(3, 16, 3, 2, act=nn.Hardswish)]
        layers += [InvertedResidual(*cfg) for cfg in _MBV3_LARGE]
        layers.append(_conv_bn_act(160, 960, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.mean) / self.std
        taps = {1: 0, 3: 1, 6: 2, 16: 3}
        out: list[torch.Tensor] = [x] * 4
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in taps:
                out[taps[i]] = x
        return out


class LRASPP(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.aspp1 = _conv_bn_act(cin, cout, 1)
        self.aspp2 = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.aspp1(x) * self.aspp2(x)


class ConvGRU(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.ih = nn.Sequential(nn.Conv2d(channels * 2, channels * 2, 3, padding=1), nn.Sigmoid())
        self.hh = nn.Sequential(nn.Conv2d(channels * 2, channels, 3, padding=1), nn.Tanh())

    def forward(self, x: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor:
        h = torch.zeros_like(x) if h is None else h
        r, z = self.ih(torch.cat([x, h], 1)).split(self.channels, 1)
        c = self.hh(torch.cat([x, r * h], 1))
        return (1 - z) * h + z * c


class Bottleneck(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.gru = ConvGRU(channels // 2)

    def forward(self, x: torch.Tensor, r: torch.Tensor | None):
        a, b = x.chunk(2, 1)
        r = self.gru(b, r)
        return torch.cat([a, r], 1), r


def _up2(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Double the size and crop to ``like`` (odd sizes were rounded up by the pooling)."""
    x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    return x[:, :, : like.shape[2], : like.shape[3]]


class Upsampling(nn.Module):
    def __init__(self, cin: int, skip: int, src: int, cout: int):
        super().__init__()
        self.conv = _conv_bn_act(cin + skip + src, cout, 3)
        self.gru = ConvGRU(cout // 2)

    def forward(self, x, f, s, r):
        x = self.conv(torch.cat([_up2(x, s), f, s], 1))
        a, b = x.chunk(2, 1)
        r = self.gru(b, r)
        return torch.cat([a, r], 1), r


class OutputBlock(nn.Module):
    def __init__(self, cin: int, src: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(*_conv_bn_act(cin + src, cout, 3), *_conv_bn_act(cout, cout, 3))

    def forward(self, x, s):
        return self.conv(torch.cat([_up2(x, s), s], 1))


class RecurrentDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.decode4 = Bottleneck(128)
        self.decode3 = Upsampling(128, 40, 3, 80)
        self.decode2 = Upsampling(80, 24, 3, 40)
        self.decode1 = Upsampling(40, 16, 3, 32)
        self.decode0 = OutputBlock(32, 3, 16)

    def forward(self, s0, f1, f2, f3, f4, rec):
        pool = [s0]
        for _ in range(3):
            pool.append(F.avg_pool2d(pool[-1], 2, 2, ceil_mode=True, count_include_pad=False))
        _, s1, s2, s3 = pool
        r1, r2, r3, r4 = rec
        x4, r4 = self.decode4(f4, r4)
        x3, r3 = self.decode3(x4, f3, s3, r3)
        x2, r2 = self.decode2(x3, f2, s2, r2)
        x1, r1 = self.decode1(x2, f1, s1, r1)
        return self.decode0(x1, s0), (r1, r2, r3, r4)


class Projection(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class DeepGuidedFilterRefiner(nn.Module):
    """Upsamples the low-resolution result with a learned guided filter at full resolution."""

    def __init__(self, hid: int = 16):
        super().__init__()
        self.box_filter = nn.Conv2d(4, 4, 3, padding=1, bias=False, groups=4)
        nn.init.constant_(self.box_filter.weight, 1.0 / 9.0)
        self.conv = nn.Sequential(
            *_conv_bn_act(8 + hid, hid, 1), *_conv_bn_act(hid, hid, 1), nn.Conv2d(hid, 4, 1)
        )

    def forward(self, fine_src, base_src, base_fgr, base_pha, base_hid, alpha_only=False):
        """Full-resolution (fgr, pha); with ``alpha_only`` fgr is None and only the alpha
        channel's coefficients are upsampled (a quarter of the full-resolution work)."""
        base_x = torch.cat([base_src, base_src.mean(1, keepdim=True)], 1)
        base_y = torch.cat([base_fgr, base_pha], 1)
        box = self.box_filter
        mean_x, mean_y = box(base_x), box(base_y)
        cov_xy = box(base_x * base_y) - mean_x * mean_y
        var_x = box(base_x * base_x) - mean_x * mean_x
        a = self.conv(torch.cat([cov_xy, var_x, base_hid], 1))
        b = mean_y - a * mean_x
        size = fine_src.shape[2:]
        if alpha_only:
            a = F.interpolate(a[:, 3:], size, mode="bilinear", align_corners=False)
            b = F.interpolate(b[:, 3:], size, mode="bilinear", align_corners=False)
            return None, torch.addcmul(b, a, fine_src.mean(1, keepdim=True))
        fine_x = torch.cat([fine_src, fine_src.mean(1, keepdim=True)], 1)
        a = F.interpolate(a, size, mode="bilinear", align_corners=False)
        b = F.interpolate(b, size, mode="bilinear", align_corners=False)
        fgr, pha = (a * fine_x + b).split([3, 1], 1)
        return fgr, pha


Recurrent = tuple[
    torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None
]


class MattingNetwork(nn.Module):
    """RVM MobileNetV3: ``(src, state, ratio) -> (fgr, pha, state)`` for one frame batch."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = MobileNetV3Encoder()
        self.aspp = LRASPP(960, 128)
        self.decoder = RecurrentDecoder()
        self.project_mat = Projection(16, 4)
        self.project_seg = Projection(16, 1)  # present in the official .pth; unused here
        self.refiner = DeepGuidedFilterRefiner()

    def forward(
        self,
        src: torch.Tensor,
        rec: Recurrent = (None, None, None, None),
        downsample_ratio: float = 1.0,
        alpha_only: bool = False,
    ):
        """src: (B, 3, H, W) sRGB in [0, 1]; returns fgr (B,3,H,W), pha (B,1,H,W), new state.

        alpha_only: skip the foreground colour (returned as None); the engine only needs alpha.
        """
        if downsample_ratio != 1.0:
            src_sm = F.interpolate(
                src,
                scale_factor=downsample_ratio,
                mode="bilinear",
                align_corners=False,
                recompute_scale_factor=False,
            )
        else:
            src_sm = src
        f1, f2, f3, f4 = self.backbone(src_sm)
        hid, rec = self.decoder(src_sm, f1, f2, f3, self.aspp(f4), rec)
        fgr_res, pha = self.project_mat(hid).split([3, 1], 1)
        fgr_res, pha = self.refiner(src, src_sm, fgr_res, pha, hid, alpha_only)
        fgr = None if fgr_res is None else (fgr_res + src).clamp(0.0, 1.0)
        return fgr, pha.clamp(0.0, 1.0), rec


# --------------------------------------------------------------------------- weight loading


def _conv_slots(model: nn.Module) -> list[tuple[str, nn.Conv2d, str | None]]:
    """Every Conv2d in execution order with the name of the batch norm that follows it (if any).

    Registration order equals execution order in this definition, which is what lets the
    anonymous, folded convolutions of the ONNX export be matched one by one.
    """
    named = list(model.named_modules())
    slots = []
    for i, (name, mod) in enumerate(named):
        if not isinstance(mod, nn.Conv2d) or name.startswith("project_seg"):
            continue
        nxt = named[i + 1] if i + 1 < len(named) else None
        bn = nxt[0] if nxt is not None and isinstance(nxt[1], nn.BatchNorm2d) else None
        slots.append((name, mod, bn))
    return slots


def state_dict_from_onnx(path: Path) -> OrderedDict[str, torch.Tensor]:
    """Map the official ONNX export's weights onto :class:`MattingNetwork`'s state dict.

    Raises ValueError when the graph does not have the expected convolutions (another model).
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    init = {t.name: t for t in graph.initializer}
    convs: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for node in graph.node:
        if node.op_type != "Conv" or node.input[1] in seen:
            continue  # the refiner's box filter is applied four times with one weight
        seen.add(node.input[1])
        convs.append((node.input[1], node.input[2] if len(node.input) > 2 else None))
    model = MattingNetwork()
    slots = _conv_slots(model)
    if len(slots) != len(convs):
        raise ValueError(
            f"{path}: {len(convs)} convolutions, expected {len(slots)} (not RVM MobileNetV3?)"
        )
    state = OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
    for (name, conv, bn), (w_name, b_name) in zip(slots, convs, strict=True):
        w = torch.from_numpy(numpy_helper.to_array(init[w_name]).copy())
        if tuple(w.shape) != tuple(conv.weight.shape):
            raise ValueError(
                f"{path}: {w_name} has shape {tuple(w.shape)}, {name} needs "
                f"{tuple(conv.weight.shape)}"
            )
        state[f"{name}.weight"] = w
        bias = (
            torch.from_numpy(numpy_helper.to_array(init[b_name]).copy())
            if b_name is not None
            else None
        )
        if bn is not None:  # folded: identity batch norm that adds the folded bias
            eps = model.get_submodule(bn).eps
            state[f"{bn}.weight"] = torch.ones_like(state[f"{bn}.weight"])
            state[f"{bn}.running_mean"] = torch.zeros_like(state[f"{bn}.running_mean"])
            state[f"{bn}.running_var"] = torch.full_like(state[f"{bn}.running_var"], 1.0 - eps)
            state[f"{bn}.bias"] = (
                bias if bias is not None else torch.zeros_like(state[f"{bn}.bias"])
            )
        elif conv.bias is not None:
            if bias is None:
                raise ValueError(f"{path}: {w_name} has no bias but {name} needs one")
            state[f"{name}.bias"] = bias
    return state


def load_state_dict_file(path: Path) -> OrderedDict[str, torch.Tensor]:
    """Read the official ``.pth`` (a plain state dict), tolerating a ``state_dict`` wrapper."""
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: not a state dict")
    return OrderedDict((k.removeprefix("module."), v) for k, v in obj.items())


def fuse_batch_norms(model: MattingNetwork) -> MattingNetwork:
    """Fold every eval-mode batch norm into its convolution (fewer passes over memory)."""
    for name, conv, bn_name in _conv_slots(model):
        if bn_name is None:
            continue
        bn = model.get_submodule(bn_name)
        fused = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, fused)
        bn_parent_name, _, bn_child = bn_name.rpartition(".")
        setattr(model.get_submodule(bn_parent_name), bn_child, nn.Identity())
    return model
