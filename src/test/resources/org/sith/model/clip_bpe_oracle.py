"""Independent reference for ClipTokenizerTest: CLIP's tokenization written the plain way.

Usage: python3 clip_bpe_oracle.py vocab.json merges.txt < strings.json > ids.json
stdin is a JSON list of strings; stdout a JSON list of id lists (SOT ... EOT, at most 77).
"""
import html
import json
import re
import sys
import unicodedata

import regex

PATTERN = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
CONTEXT = 77


def byte_alphabet():
    printable = list(range(ord('!'), ord('~') + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def clean(text):
    text = html.unescape(html.unescape(text))
    text = unicodedata.normalize('NFC', text)
    text = re.sub(r'\s+', ' ', text).strip()
    return text.lower()


def bpe(symbols, ranks):
    while len(symbols) > 1:
        scored = [(ranks[p], i) for i, p in enumerate(zip(symbols, symbols[1:])) if p in ranks]
        if not scored:
            break
        left, right = symbols[min(scored)[1]], symbols[min(scored)[1] + 1]
        merged, i = [], 0
        while i < len(symbols):
            if i + 1 < len(symbols) and symbols[i] == left and symbols[i + 1] == right:
                merged.append(left + right)
                i += 2
            else:
                merged.append(symbols[i])
                i += 1
        symbols = merged
    return symbols


def main():
    with open(sys.argv[1], encoding='utf-8') as f:
        vocab = json.load(f)
    with open(sys.argv[2], encoding='utf-8') as f:
        lines = f.read().split('\n')[1:49152 - 256 - 2 + 1]
    ranks = {}
    for rank, line in enumerate(lines):
        left, right = line.split()
        ranks[(left, right)] = rank
    alphabet = byte_alphabet()
    sot, eot = vocab['<|startoftext|>'], vocab['<|endoftext|>']
    texts = json.loads(sys.stdin.buffer.read().decode('utf-8'))
    out = []
    for text in texts:
        ids = [sot]
        for piece in regex.findall(PATTERN, clean(text), regex.IGNORECASE):
            if piece in ('<|startoftext|>', '<|endoftext|>'):
                ids.append(vocab[piece])
                continue
            chars = [alphabet[b] for b in piece.encode('utf-8')]
            chars[-1] += '</w>'
            ids.extend(vocab[s] for s in bpe(chars, ranks))
        ids.append(eot)
        if len(ids) > CONTEXT:
            ids = ids[:CONTEXT - 1] + [eot]
        out.append(ids)
    sys.stdout.write(json.dumps(out))


if __name__ == '__main__':
    main()
