#!/usr/bin/env python3
"""The tiny GPT of e3sim (src/policy/transformer) in PyTorch, for `npm run bench:compare`.

Same shapes, same maths, same work as `e3sim bench`:
  - pre-LayerNorm blocks (eps 1e-5), learned positions, untied head, biased q/k/v/o projections,
    MLP with GELU as x*sigmoid(1.702x), GPT-2 init (N(0, 0.02), residual projections / sqrt(2L));
  - sampling: a prefill of the 16-token prompts, then one KV-cached decode step per token
    (preallocated cache), log-probs and entropies of every sampled token, EOS disabled;
  - training: teacher-forced forward over [B, T], token-level policy-gradient loss on the
    completion positions, backward, global-norm clipping at 1, Adam (0.9, 0.99, eps 1e-8);
  - medians of the timed repeats after one warm-up; trained tokens = B * (T - prompt).
Prints one JSON object.
"""
import argparse, json, math, statistics, time
import torch
import torch.nn.functional as F

SHAPES = {
    'reference': dict(dModel=128, nHeads=4, nLayers=2, contextLength=128, batch=64, promptTokens=16, vocabSize=128),
    'large': dict(dModel=512, nHeads=8, nLayers=8, contextLength=128, batch=256, promptTokens=16, vocabSize=128),
    'tiny': dict(dModel=32, nHeads=2, nLayers=1, contextLength=32, batch=4, promptTokens=8, vocabSize=32),
}


def gelu(x):
    return x * torch.sigmoid(1.702 * x)


class Block(torch.nn.Module):
    def __init__(self, D, H):
        super().__init__()
        self.H = H
        self.ln1 = torch.nn.LayerNorm(D, eps=1e-5)
        self.q, self.k, self.v, self.o = (torch.nn.Linear(D, D) for _ in range(4))
        self.ln2 = torch.nn.LayerNorm(D, eps=1e-5)
        self.w1 = torch.nn.Linear(D, 4 * D)
        self.w2 = torch.nn.Linear(4 * D, D)

    def split(self, x):  # [B, T, D] -> [B, H, T, hd]
        B, T, D = x.shape
        return x.view(B, T, self.H, D // self.H).transpose(1, 2)

    def forward(self, x, mask, cache=None, pos=0):
        B, T, D = x.shape
        a = self.ln1(x)
        q, k, v = self.split(self.q(a)), self.split(self.k(a)), self.split(self.v(a))
        if cache is not None:  # write this step's keys/values into the preallocated cache
            cache[0][:, :, pos:pos + T] = k
            cache[1][:, :, pos:pos + T] = v
            k, v = cache[0][:, :, :pos + T], cache[1][:, :, :pos + T]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D // self.H))
        if mask is not None:
            att = att + mask
        y = (torch.softmax(att, -1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.o(y)
        return x + self.w2(gelu(self.w1(self.ln2(x))))


class Gpt(torch.nn.Module):
    def __init__(self, s):
        super().__init__()
        D, L, V, C = s['dModel'], s['nLayers'], s['vocabSize'], s['contextLength']
        self.wte = torch.nn.Parameter(torch.randn(V, D) * 0.02)
        self.wpe = torch.nn.Parameter(torch.randn(C, D) * 0.02)
        self.blocks = torch.nn.ModuleList(Block(D, s['nHeads']) for _ in range(L))
        self.lnf = torch.nn.LayerNorm(D, eps=1e-5)
        self.head = torch.nn.Linear(D, V, bias=False)
        for n, p in self.named_parameters():
            if n.endswith('bias'):
                torch.nn.init.zeros_(p)
            elif p.dim() == 2 and n not in ('wte', 'wpe'):
                torch.nn.init.normal_(p, 0, 0.02 / math.sqrt(2 * L) if n.endswith(('o.weight', 'w2.weight')) else 0.02)
        self.register_buffer('mask', torch.full((C, C), -1e9).triu(1), persistent=False)

    def forward(self, tokens, caches=None, pos=0):
        B, T = tokens.shape
        x = F.embedding(tokens, self.wte) + self.wpe[pos:pos + T]
        mask = self.mask[:T, :T] if T > 1 else None  # one new token sees the whole cache
        for i, b in enumerate(self.blocks):
            x = b(x, mask, None if caches is None else caches[i], pos)
        return self.head(self.lnf(x))


def bench_sample(model, s, gen, dev):
    B, P, C, V = s['batch'], s['promptTokens'], s['contextLength'], s['vocabSize']
    H, D = s['nHeads'], s['dModel']
    prompts = torch.randint(3, V, (B, P), generator=gen).to(dev)
    caches = [(torch.empty(B, H, C, D // H, device=dev), torch.empty(B, H, C, D // H, device=dev)) for _ in s_blocks(model)]
    with torch.no_grad():
        logits = model(prompts, caches, 0)[:, -1]
        n = 0
        lps, ents = [], []
        for pos in range(P, C):
            logp = torch.log_softmax(logits, -1)
            probs = logp.exp()
            tok = torch.multinomial(probs, 1)
            lps.append(logp.gather(1, tok))
            ents.append(-(probs * logp).sum(-1))
            n += B
            if pos == C - 1:
                break
            logits = model(tok, caches, pos)[:, -1]
        torch.cat(lps).cpu()  # the log-probs reach the host, as e3sim's do
        torch.stack(ents).cpu()
    return n


def s_blocks(model):
    return model.blocks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--shape', default='reference', choices=sorted(SHAPES))
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--device', default='cpu')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    s = SHAPES[a.shape]
    dev = torch.device(a.device)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == 'cuda' else (lambda: None)
    model = Gpt(s).to(dev)
    gen = torch.Generator().manual_seed(1)
    sample_runs = []
    for r in range(a.repeats + 1):
        sync(); t0 = time.perf_counter()
        n = bench_sample(model, s, gen, dev)
        sync(); dt = time.perf_counter() - t0
        if r > 0:
            sample_runs.append(n / dt)
    B, T, P, V = s['batch'], s['contextLength'], s['promptTokens'], s['vocabSize']
    toks = torch.randint(0, V, (B, T), generator=gen).to(dev)
    targets = torch.cat([toks[:, 1:], torch.zeros(B, 1, dtype=toks.dtype, device=dev)], 1)
    adv = torch.randn(B, T, generator=gen).to(dev)
    pos = torch.arange(T, device=dev)
    mask = ((pos >= P - 1) & (pos < T - 1)).float().expand(B, T)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.99), eps=1e-8)
    step_runs = []
    for r in range(a.repeats + 1):
        sync(); t0 = time.perf_counter()
        logp = torch.log_softmax(model(toks), -1).gather(2, targets.unsqueeze(-1)).squeeze(-1)
        loss = -(logp * adv * mask).sum() / mask.sum().clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
        sync(); dt = time.perf_counter() - t0
        if r > 0:
            step_runs.append(dt * 1000)
    step_ms = statistics.median(step_runs)
    print(json.dumps({
        'engine': f'pytorch {torch.__version__}', 'device': a.device, 'threads': a.threads, 'shape': s,
        'sampleTokensPerSec': statistics.median(sample_runs), 'trainTokensPerSec': B * (T - P) / step_ms * 1000,
        'trainStepMs': step_ms, 'sampleRuns': sample_runs, 'trainStepRuns': step_runs,
    }))


if __name__ == '__main__':
    main()
