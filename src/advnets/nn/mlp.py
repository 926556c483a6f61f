"""The generator G(z) and discriminator D(x): the paper's multilayer perceptrons (maxout D), or
with `kind = "dcgan"` convolutional stacks (advnets.nn.conv) around the same inputs and heads.

Both may be class-conditional, G(z, c) and D(x, c) (section 7, extension 1: "adding c as input
to both G and D"): with `num_classes` > 0 the one-hot c joins G's noise, and D either takes it
beside x ("concat") or adds <embed(c), h(x)> to its logit, h being its last hidden layer
("projection", Miyato & Koyama 2018).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from advnets.config import Config, GeneratorConfig
from advnets.errors import ConfigError
from advnets.nn import conv
from advnets.nn.layers import Maxout, init_uniform_

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
}


def one_hot(c: torch.Tensor | None, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    if c is None:
        raise ValueError(
            f"this network is class-conditional ({num_classes} classes): pass the classes c"
        )
    return F.one_hot(c, num_classes).to(dtype)


class Generator(nn.Module):
    """G(z): noise [B, noise_dim] -> hidden layers -> data [B, out_dim]; G(z, c) when
    conditional."""

    def __init__(
        self,
        noise_dim: int,
        out_dim: int,
        hidden: list[int],
        activation: str = "relu",
        output: str = "sigmoid",
        num_classes: int = 0,
        batch_norm: bool = False,
        kind: str = "mlp",
        image_shape: tuple[int, ...] | None = None,
    ):
        super().__init__()
        width = noise_dim + num_classes
        if kind == "dcgan":
            self.body, self.out = conv.generator_layers(
                width,
                _image_shape(image_shape, out_dim, "generator"),
                hidden,
                ACTIVATIONS[activation],
                batch_norm,
            )
        else:
            layers: list[nn.Module] = []
            for h in hidden:
                # batch norm's shift replaces the layer's bias
                layers += [
                    nn.Linear(width, h, bias=not batch_norm),
                    *([nn.BatchNorm1d(h)] if batch_norm else []),
                    ACTIVATIONS[activation](),
                ]
                width = h
            self.body = nn.Sequential(*layers)
            self.out = nn.Linear(width, out_dim)
        self.squash = nn.Sigmoid() if output == "sigmoid" else nn.Identity()
        self.noise_dim, self.num_classes = noise_dim, num_classes

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            z = torch.cat(
                [z, one_hot(c, self.num_classes, z.dtype)], dim=1
            )  # [B, noise_dim + classes]
        return self.squash(self.out(self.body(z))).flatten(1)  # [B, out_dim]


class Discriminator(nn.Module):
    """D(x): maxout layers with dropout on every layer's input -> one logit per example.

    Returns logits, not probabilities: D(x) = sigmoid(logit), and the objectives are computed
    from logits for numerical stability. With `outputs` = K > 1 it returns K class logits [B, K]
    instead: the semi-supervised discriminator (advnets.train.semi).
    """

    def __init__(
        self,
        in_dim: int,
        hidden: list[int],
        pieces: int = 5,
        input_keep: float = 0.8,
        hidden_keep: float = 0.5,
        standardize_input: bool = False,
        num_classes: int = 0,
        condition: str = "concat",
        outputs: int = 1,
        extra_dim: int = 0,
        auxiliary: bool = False,
        unit: str = "maxout",
        input_noise: float = 0.0,
        hidden_noise: float = 0.0,
        kind: str = "mlp",
        image_shape: tuple[int, ...] | None = None,
        pack: int = 1,
        batch_norm: bool = False,
    ):
        super().__init__()
        if pack > 1 and (kind != "mlp" or num_classes or extra_dim):
            raise ValueError("a packed discriminator is an unconditional mlp D of x alone")
        self.pack = pack  # PacGAN: D judges `pack` examples at once, concatenated
        if num_classes and condition not in ("concat", "projection"):
            raise ValueError(f"unknown condition {condition!r}; valid: concat, projection")
        if kind == "dcgan" and (
            (num_classes and condition == "concat") or extra_dim or unit == "maxout"
        ):
            raise ValueError(
                "a dcgan discriminator takes images alone, with relu or leaky_relu units: "
                "condition it by "
                "projection, and use unit = relu or leaky_relu"
            )
        self.num_classes = num_classes
        self.concat = num_classes if condition == "concat" else 0
        self.extra_dim = extra_dim  # a second input beside x, such as BiGAN's z (after x's dropout)
        if standardize_input:  # set from the data by build_discriminator; loaded with the weights
            self.register_buffer("input_mean", torch.zeros(in_dim))
            self.register_buffer("input_std", torch.ones(()))
        if kind == "dcgan":
            layers, width = conv.discriminator_layers(
                _image_shape(image_shape, in_dim, "discriminator"),
                hidden,
                ACTIVATIONS[unit],
                lambda i: (
                    _regulariser(input_keep, input_noise)
                    if i == 0
                    else _regulariser(hidden_keep, hidden_noise)
                ),
                outputs,
                batch_norm,
            )
        else:
            layers = []
            width, keep, noise = in_dim * pack + self.concat + extra_dim, input_keep, input_noise
            for h in hidden:
                block = (
                    Maxout(width, h, pieces)
                    if unit == "maxout"
                    else nn.Sequential(nn.Linear(width, h), ACTIVATIONS[unit]())
                )
                layers += [_regulariser(keep, noise), block]
                width, keep, noise = h, hidden_keep, hidden_noise
            layers += [_regulariser(keep, noise), nn.Linear(width, outputs)]
        self.net = nn.Sequential(*layers)
        if num_classes and not self.concat:
            self.embed = nn.Embedding(num_classes, width)  # [classes, last hidden width]
        if auxiliary:  # a K-way classifier of x beside the real-vs-generated logit
            self.classify = nn.Linear(width, num_classes)

    def forward(
        self,
        x: torch.Tensor,
        c: torch.Tensor | None = None,
        extra: torch.Tensor | None = None,
        with_classes: bool = False,
    ):
        """The logit [B]; with `with_classes` (an auxiliary classifier D), (logit, class logits [B,
        K])."""
        x = self._prepare(x)
        if not self.num_classes and not self.extra_dim:
            return self._squeeze(self.net(x))  # [B] logits ([B, outputs] when outputs > 1)
        h = self.net[0](x)  # input dropout on x alone
        if self.concat:
            h = torch.cat(
                [h, one_hot(c, self.num_classes, h.dtype)], dim=1
            )  # [B, in_dim + classes]
        if self.extra_dim:
            if extra is None:
                raise ValueError(
                    f"this discriminator judges pairs: pass its second input ({self.extra_dim} "
                    "values)"
                )
            h = torch.cat([h, extra], dim=1)  # [B, in_dim + extra_dim]
        for layer in self.net[1:-1]:
            h = layer(h)  # [B, last hidden width], after its dropout
        logit = self._squeeze(self.net[-1](h))
        if self.num_classes and not self.concat:
            if c is None:
                raise ValueError(
                    f"this network is class-conditional ({self.num_classes} classes): pass the "
                    "classes c"
                )
            logit = logit + (self.embed(c) * h).sum(-1)
        if with_classes:
            return logit, self.classify(h)
        return logit  # [B]

    def _squeeze(self, out: torch.Tensor) -> torch.Tensor:
        return out.squeeze(-1) if out.shape[-1] == 1 else out

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer [B, width] of a D of x alone (maxout units, or a dcgan D's
        flattened
        last feature maps): feature matching's statistics and the semi-supervised features."""
        if self.num_classes or self.extra_dim:
            raise ValueError("features() is defined for a discriminator of x alone")
        return self.net[:-2](self._prepare(x))

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        """x standardised (standardize_input), and packed: [B, D] -> [B / pack, pack * D]."""
        if hasattr(self, "input_mean"):
            x = (x - self.input_mean) / self.input_std
        if self.pack > 1:
            if x.shape[0] % self.pack:
                raise ValueError(
                    f"a discriminator packing {self.pack} examples got a batch of {x.shape[0]}: "
                    f"batches must be multiples of {self.pack}"
                )
            x = x.reshape(x.shape[0] // self.pack, self.pack * x.shape[1])
        return x


class GaussianNoise(nn.Module):
    """x + N(0, std^2) in training; x unchanged in evaluation."""

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.std * torch.randn_like(x) if self.training else x

    def extra_repr(self) -> str:
        return f"std={self.std}"


def _image_shape(image_shape, dim: int, role: str) -> tuple[int, ...]:
    if not image_shape:
        raise ConfigError(
            f"{role}.kind = 'dcgan' needs image data; this data set is points of dimension {dim}: "
            "use kind = 'mlp'"
        )
    return tuple(image_shape)


def _regulariser(keep: float, noise: float) -> nn.Module:
    """What a layer's input goes through in training: dropout, then Gaussian noise."""
    parts = [] if keep >= 1.0 else [_dropout(keep)]
    parts += [GaussianNoise(noise)] if noise > 0 else []
    return parts[0] if len(parts) == 1 else nn.Sequential(*parts) if parts else nn.Identity()


def _dropout(keep: float) -> nn.Module:
    # nn.Dropout scales kept inputs by 1 / keep, as the reference code's input_scales do.
    return nn.Dropout(p=1.0 - keep)


def sigmoid_bias_from_means(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """logit of the per-pixel means of x [N, D], clipped to [eps, 1 - eps] (the reference code)."""
    mean = x.double().mean(dim=0).clamp(eps, 1.0 - eps)
    return torch.log(mean / (1.0 - mean)).float()


DATA_INIT_ROWS = 500  # the batch of training images that sets a data-initialised D's scales


@torch.no_grad()
def init_from_data_(d: Discriminator, x: torch.Tensor) -> None:
    """Rescale each linear map of D, first layer first, so that on `x` [N, in_dim] (with D's noise
    and dropout as in training) each of its outputs has mean 0 and standard deviation 1."""
    for layer in [m for m in d.net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]:
        seen = []
        hook = layer.register_forward_hook(
            lambda module, inputs, out, store=seen: store.append(out)
        )
        d(x)
        hook.remove()
        out = seen[0].transpose(0, 1).flatten(1)  # [outputs or channels, N (x positions)]
        mean, std = out.mean(1), out.std(1).clamp(min=1e-8)
        layer.weight.div_(std.view(-1, *[1] * (layer.weight.ndim - 1)))
        layer.bias.sub_(mean).div_(std)


def build_generator(
    cfg: GeneratorConfig,
    out_dim: int,
    train_x: torch.Tensor | None = None,
    num_classes: int = 0,
    image_shape: tuple[int, ...] | None = None,
) -> Generator:
    g = Generator(
        cfg.noise_dim,
        out_dim,
        cfg.hidden,
        cfg.activation,
        cfg.output,
        num_classes,
        cfg.batch_norm,
        cfg.kind,
        image_shape,
    )
    if cfg.init == "paper":
        init_uniform_(g, cfg.init_range)
    if cfg.output_bias_from_data and train_x is not None:
        if cfg.kind == "dcgan":  # one bias per channel: from the channel's mean over all its pixels
            channels = conv.channels_and_size(image_shape)[0]
            train_x = (
                train_x.reshape(len(train_x), channels, -1).transpose(1, 2).reshape(-1, channels)
            )
        with torch.no_grad():
            g.out.bias.copy_(
                sigmoid_bias_from_means(train_x) if cfg.output == "sigmoid" else train_x.mean(0)
            )
    return g


def build_discriminator(
    config: Config,
    data_dim: int,
    *,
    num_classes: int = 0,
    outputs: int = 1,
    image_shape: tuple[int, ...] | None = None,
    train_x: torch.Tensor | None = None,
) -> Discriminator:
    """D for `config`: the architecture of config.discriminator, the inputs beside x that the
    game gives it (the class c of a conditional run, `num_classes` > 0; the code z of a BiGAN
    pair) and its heads (the auxiliary classifier; K = `outputs` class logits for a
    semi-supervised D). `train_x`: the training data, for the initialisations that read it."""
    cfg = config.discriminator
    d = Discriminator(
        data_dim,
        cfg.hidden,
        cfg.pieces,
        cfg.input_keep,
        cfg.hidden_keep,
        cfg.standardize_input,
        num_classes,
        config.condition.kind,
        outputs,
        extra_dim=config.generator.noise_dim if config.encoder.kind == "bigan" else 0,
        auxiliary=config.condition.auxiliary_weight > 0,
        unit=cfg.unit,
        input_noise=cfg.input_noise,
        hidden_noise=cfg.hidden_noise,
        kind=cfg.kind,
        image_shape=image_shape,
        pack=cfg.pack,
        batch_norm=cfg.batch_norm,
    )
    if cfg.standardize_input and train_x is not None:
        with torch.no_grad():
            d.input_mean.copy_(train_x.mean(0))
            d.input_std.copy_(train_x.std().clamp(min=1e-8))
    if cfg.init == "paper":
        init_uniform_(d, cfg.init_range)
    if cfg.init == "data" and train_x is not None:
        init_from_data_(
            d, train_x[torch.randperm(len(train_x))[: DATA_INIT_ROWS // cfg.pack * cfg.pack]]
        )
    layers = [m for m in d.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    if cfg.weight_norm:  # after the initialisation: g starts at ||v||, so D's function is unchanged
        for layer in layers:
            nn.utils.parametrizations.weight_norm(layer)
    if cfg.spectral_norm:
        for layer in layers:
            nn.utils.parametrizations.spectral_norm(layer)
    return d
