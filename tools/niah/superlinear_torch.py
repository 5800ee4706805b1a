"""A superlinear Nemotron-H in PyTorch for training: transformers' NemotronHForCausalLM (Mamba-2,
MLP/MoE, norms: the layers the CPU backend is checked against) with every attention layer
replaced by MultiStepAttention, the multi-step attention of ../shared/docs/SUPERLINEAR.md section
3 written from the document (anchors, top-k with ties to the farther anchor, spans, window,
gate), plus its routing query projection q1_proj. Saved checkpoints are what `slc import` reads
(model_type superlinear-exp, span_attention_* keys, backbone.layers.{i}.mixer.q1_proj.weight).

The layer runs on whole sequences (training and scoring); it materialises per-query key masks,
so it is meant for the few-thousand-token lengths a tiny model trains on."""
import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn
from transformers import NemotronHConfig, NemotronHForCausalLM
from transformers.models.nemotron_h import modeling_nemotron_h as _nh

MSA_KEYS = ("span_attention_sw_index", "span_attention_num_spans",
            "span_attention_backward_factor", "span_attention_forward_factor",
            "span_attention_search_power", "span_attention_span_power")


def floor_power(i, p):
    """floor(i^(1/p)), exact when 1/p is an integer (SUPERLINEAR.md: computed once on the host)."""
    inv = 1.0 / p
    if float(round(inv)) == inv:
        return i ** int(round(inv))
    return int(math.floor(i ** inv))


class MsaConfig:
    def __init__(self, sw_index, num_spans, backward_factor, forward_factor, search_power,
                 span_power):
        self.sw, self.k = sw_index, num_spans
        self.bf, self.ff, self.p, self.sp = backward_factor, forward_factor, search_power, span_power
        self.window = floor_power(sw_index + 1, search_power) - 1

    @classmethod
    def of(cls, config):
        return cls(*(getattr(config, key) for key in MSA_KEYS))

    def anchor_offsets(self, length):
        """floor_power(i) - 1 for i = sw+1, ... while the anchor can exist at this length."""
        offsets, i = [], self.sw + 1
        while floor_power(i, self.p) - 1 <= length - 1:
            offsets.append(floor_power(i, self.p) - 1)
            i += 1
        return offsets


def route(q1, kk, cfg):
    """Anchor scores of every query. q1 [B, H, T, D], kk [B, H, T, D] (the keys of each query
    head's kv head). Returns (scores [B, H, T, A]
    with -inf where the anchor does not exist, anchor positions [T, A]); A is ordered by i, so a
    larger index is a farther anchor."""
    T = q1.shape[2]
    offsets = torch.tensor(cfg.anchor_offsets(T), device=q1.device, dtype=torch.long)
    pos = torch.arange(T, device=q1.device)
    anchors = pos[:, None] - offsets[None, :]                       # [T, A]
    valid = anchors >= 0
    if offsets.numel() == 0:
        return q1.new_zeros(*q1.shape[:3], 0), anchors
    gathered = kk[:, :, anchors.clamp(min=0)]                        # [B, H, T, A, D]
    scores = torch.einsum("bhtd,bhtad->bhta", q1.float(), gathered.float())  # raw, no scale
    return scores.masked_fill(~valid, float("-inf")), anchors


def span_bounds(anchor, pos, cfg):
    """Inclusive [start, end] of the span around `anchor` for the query at `pos` (tensors)."""
    t = (pos + 1).double()
    bl = torch.ceil(cfg.bf * t ** cfg.sp).long()
    fl = torch.ceil(cfg.ff * t ** cfg.sp).long()
    sw_start = (pos - cfg.window + 1).clamp(min=0)
    start = (anchor - bl).clamp(min=0)
    end = torch.minimum(torch.minimum(anchor + fl, pos), sw_start - 1)
    return start, end


def multi_step_attention(q1, q2, k, v, cfg, return_routing=False):
    """SUPERLINEAR.md section 3 for all positions of the sequences: q1, q2 [B, H, T, D], k, v
    [B, KV, T, D] -> [B, H, T, D]. With return_routing also (scores [B, H, T, A], anchors [T, A])."""
    B, H, T, D = q2.shape
    group = H // k.shape[1]
    kk = k.repeat_interleave(group, dim=1)
    vv = v.repeat_interleave(group, dim=1)
    pos = torch.arange(T, device=q2.device)
    keys = pos
    sw_start = (pos - cfg.window + 1).clamp(min=0)
    window = (keys[None, :] >= sw_start[:, None]) & (keys[None, :] <= pos[:, None])  # [T, T]
    scores, anchors = route(q1, kk, cfg)
    A = scores.shape[-1]
    if A == 0:  # every query within the window: dense causal attention
        out = F.scaled_dot_product_attention(q2, kk, vv, attn_mask=window, scale=D ** -0.5)
        return (out, (scores, anchors)) if return_routing else out
    kk_top = min(cfg.k, A)
    # Top-k by score, ties to the farther anchor: a stable descending sort of the anchors in
    # far-to-near order keeps the farther of equal scores first.
    _, order = torch.sort(scores.detach().flip(-1), dim=-1, descending=True, stable=True)
    top_index = A - 1 - order[..., :kk_top]                                 # [B, H, T, k]
    top_scores = torch.gather(scores, -1, top_index)
    top_valid = torch.isfinite(top_scores)
    top_anchor = torch.gather(anchors.clamp(min=0).expand(B, H, T, A), -1, top_index)
    start, end = span_bounds(top_anchor, pos[None, None, :, None], cfg)
    gate_logits = torch.where(top_valid, top_scores, torch.full_like(top_scores, -1e9))
    if kk_top < cfg.k:  # missing slots are invalid (score -1e9, output = window)
        pad = cfg.k - kk_top
        gate_logits = torch.cat([gate_logits, gate_logits.new_full((B, H, T, pad), -1e9)], -1)
    gate = torch.softmax(gate_logits, dim=-1)                               # [B, H, T, k]
    out = q2.new_zeros(B, H, T, D, dtype=torch.float32)
    for j in range(cfg.k):
        if j < kk_top:
            in_span = (keys >= start[..., j, None]) & (keys <= end[..., j, None]) & \
                top_valid[..., j, None]                                     # [B, H, T, T]
            mask = in_span | window
        else:
            mask = window.expand(B, H, T, T)
        o = F.scaled_dot_product_attention(q2, kk, vv, attn_mask=mask, scale=D ** -0.5)
        out = out + gate[..., j, None].float() * o.float()
    out = out.to(q2.dtype)
    return (out, (scores, anchors)) if return_routing else out


class MultiStepAttention(nn.Module):
    """Drop-in mixer for NemotronHAttention's place: q/k/v/o projections plus q1_proj."""

    def __init__(self, config, layer_idx):
        super().__init__()
        self.layer_idx = layer_idx
        self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = config.head_dim
        hidden, width = config.hidden_size, self.heads * self.head_dim
        bias = bool(config.attention_bias)
        self.q_proj = nn.Linear(hidden, width, bias=bias)
        self.q1_proj = nn.Linear(hidden, width, bias=bias)
        self.k_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(width, hidden, bias=bias)
        self.cfg = MsaConfig.of(config)
        self.keep = False     # keep (scores, anchors) of each forward in self.routing
        self.routing = None

    def forward(self, hidden_states, **kwargs):
        B, T, _ = hidden_states.shape
        shape = lambda x, h: x.view(B, T, h, self.head_dim).transpose(1, 2)
        q = shape(self.q_proj(hidden_states), self.heads)
        q1 = shape(self.q1_proj(hidden_states), self.heads)
        k = shape(self.k_proj(hidden_states), self.kv_heads)
        v = shape(self.v_proj(hidden_states), self.kv_heads)
        out, routing = multi_step_attention(q1, q, k, v, self.cfg, return_routing=True)
        self.routing = routing if self.keep else None
        out = out.transpose(1, 2).reshape(B, T, self.heads * self.head_dim)
        return self.o_proj(out), None


def chunk_scan(x, dt, A, B, C, chunk_size, D=None, dt_bias=None, initial_states=None,
               dt_softplus=False, dt_limit=(0.0, float("inf")), return_final_states=False,
               **kwargs):
    """transformers' mamba2_chunk_scan (the SSD chunked scan, same arguments and result) with
    its contractions as einsums: the reference multiplies broadcast tensors of [chunk, chunk,
    heads, state] per chunk, which at training lengths is tens of GB and most of a step."""
    batch, length, heads, head_dim = x.shape
    if dt_bias is not None:
        dt = dt + dt_bias.to(dt.dtype)
    if dt_softplus:
        dt = F.softplus(dt)
    dt = torch.clamp(dt, min=dt_limit[0], max=dt_limit[1]).float()
    x = x.float()
    B = B.float().repeat_interleave(heads // B.shape[2], dim=2)
    C = C.float().repeat_interleave(heads // C.shape[2], dim=2)
    pad = (chunk_size - length % chunk_size) % chunk_size

    def chunks(t):  # [b, T, ...] -> [b, c, l, ...]
        t = F.pad(t, (0, 0) * (t.dim() - 2) + (0, pad))
        return t.reshape(batch, -1, chunk_size, *t.shape[2:])

    xd = chunks(x * dt[..., None])                                  # [b, c, l, h, p]
    a = chunks(A.float() * dt).permute(0, 3, 1, 2)                  # [b, h, c, l]
    Bc, Cc = chunks(B), chunks(C)                                   # [b, c, l, h, n]
    a_cum = torch.cumsum(a, dim=-1)
    decay = torch.exp(_nh.segment_sum(a))                           # [b, h, c, l, s]
    scores = torch.einsum("bclhn,bcshn->bhcls", Cc, Bc) * decay
    y = torch.einsum("bhcls,bcshp->bclhp", scores, xd)
    to_end = torch.exp(a_cum[..., -1:] - a_cum)                     # [b, h, c, l]
    states = torch.einsum("bclhn,bhcl,bclhp->bchpn", Bc, to_end, xd)
    first = (initial_states[:, None].float() if initial_states is not None
             else torch.zeros_like(states[:, :1]))
    states = torch.cat([first, states], dim=1)                      # [b, c+1, h, p, n]
    across = torch.exp(_nh.segment_sum(F.pad(a_cum[..., -1], (1, 0))))   # [b, h, c+1, c+1]
    states = torch.einsum("bhzc,bchpn->bzhpn", across, states)
    states, final = states[:, :-1], states[:, -1]
    y = y + torch.einsum("bclhn,bchpn,bhcl->bclhp", Cc, states, torch.exp(a_cum))
    y = y.reshape(batch, -1, heads, head_dim)[:, :length]
    if D is not None:
        y = y + D[..., None] * x
    return (y, final) if return_final_states else y


def use_fast_scan():
    """Makes transformers' Mamba-2 layers run chunk_scan (training; the golden fixtures keep the
    reference)."""
    _nh.mamba2_chunk_scan = chunk_scan


def build_model(config_dict):
    """NemotronHForCausalLM of `config_dict` (with the span_attention_* keys) whose attention
    mixers are MultiStepAttention."""
    fields = {k: v for k, v in config_dict.items() if k not in MSA_KEYS and k != "model_type"}
    config = NemotronHConfig(**fields)
    for key in MSA_KEYS:
        setattr(config, key, config_dict[key])
    model = NemotronHForCausalLM(config)
    for layer in model.model.layers:
        if layer.block_type == "full_attention":
            layer.mixer = MultiStepAttention(config, layer.layer_idx)
    return model


def msa_layers(model):
    return [layer.mixer for layer in model.model.layers if isinstance(layer.mixer, MultiStepAttention)]


def save_checkpoint(model, config_dict, out_dir, dtype=torch.float32):
    """config.json (model_type superlinear-exp) + model.safetensors in the names slc reads."""
    os.makedirs(out_dir, exist_ok=True)
    model.to(dtype).save_pretrained(out_dir, safe_serialization=True)
    with open(os.path.join(out_dir, "config.json")) as f:
        saved = json.load(f)
    saved["model_type"] = "superlinear-exp"
    for key in MSA_KEYS:
        saved[key] = config_dict[key]
    saved.pop("transformers_version", None)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(saved, f, indent=2, sort_keys=True)
        f.write("\n")
