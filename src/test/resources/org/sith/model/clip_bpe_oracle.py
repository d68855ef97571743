"""Independent reference for ClipTokenizerTest: CLIP's tokenization written the plain way.

Cleaning is OpenCLIP's: ftfy.fix_text (here without its mojibake repair, fix_encoding, which the Java
side leaves out too; the other fixers written plainly from ftfy 6.x's documented tables and order),
html.unescape twice, whitespace collapsed and stripped, lowercased.

Usage: python3 clip_bpe_oracle.py vocab.json merges.txt < strings.json > ids.json
stdin is a JSON list of strings; stdout a JSON list of id lists (SOT ... EOT, at most 77).
"""
import html
import html.entities
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


def _ftfy_entities():
    """ftfy's entity table: HTML5 names with ';', plus ALL-CAPS forms of lowercase ones html.unescape ignores."""
    table = {}
    for name, value in html.entities.html5.items():
        if not name.endswith(';'):
            continue
        table['&' + name] = value
        caps = '&' + name.upper()
        if name == name.lower() and html.unescape(caps) == caps:
            table[caps] = value.upper()
    return table


ENTITIES = _ftfy_entities()
ENTITY = re.compile(r'&#?[0-9A-Za-z]{1,24};')
ANSI = re.compile(r'\x1b\[(?:\d|;)*[a-zA-Z]')
CONTROL = set(range(0x00, 0x09)) | {0x0B} | set(range(0x0E, 0x20)) | {0x7F} | set(range(0x206A, 0x2070)) | {0xFEFF} \
    | set(range(0xFFF9, 0xFFFD))
LIGATURES = {'\u0132': 'IJ', '\u0133': 'ij', '\u0149': '\u02bcn', '\u01f1': 'DZ', '\u01f2': 'Dz', '\u01f3': 'dz',
             '\u01c4': 'D\u017d', '\u01c5': 'D\u017e', '\u01c6': 'd\u017e', '\u01c7': 'LJ', '\u01c8': 'Lj',
             '\u01c9': 'lj', '\u01ca': 'NJ', '\u01cb': 'Nj', '\u01cc': 'nj', '\ufb00': 'ff', '\ufb01': 'fi',
             '\ufb02': 'fl', '\ufb03': 'ffi', '\ufb04': 'ffl', '\ufb05': '\u017ft', '\ufb06': 'st'}


def _entity(m):
    ref = m.group(0)
    if ref in ENTITIES:
        return ENTITIES[ref]
    if ref.startswith('&#'):
        decoded = html.unescape(ref)
        return ref if ';' in decoded else decoded
    return ref


def _join_surrogates(m):
    high, low = m.group(0)
    return chr(0x10000 + ((ord(high) - 0xD800) << 10) + (ord(low) - 0xDC00))


def _width(ch):
    if ch == '\u3000':
        return ' '
    if '\uff01' <= ch <= '\uffef':
        return unicodedata.normalize('NFKC', ch)
    return ch


def _repair(text, entities):
    while True:
        before = text
        if entities:
            text = ENTITY.sub(_entity, text)
        text = re.sub('[\x80-\x9f]', lambda m: bytes([ord(m.group(0))]).decode('cp1252', 'ignore') or m.group(0), text)
        text = ''.join(LIGATURES.get(ch, ch) for ch in text)
        text = ''.join(_width(ch) for ch in text)
        text = re.sub('[\u201c-\u201f]', '"', text)
        text = re.sub('[\u02bc\u2018-\u201b]', "'", text)
        text = re.sub('\r\n|[\r\u2028\u2029\x85]', '\n', text)
        text = re.sub('[\ud800-\udbff][\udc00-\udfff]', _join_surrogates, text)
        text = re.sub('[\ud800-\udfff]', '\ufffd', text)
        text = ANSI.sub('', text)
        text = ''.join(ch for ch in text if ord(ch) not in CONTROL)
        text = unicodedata.normalize('NFC', text)
        if text == before:
            return text


def fix_text(text):
    """ftfy.fix_text with its default settings minus fix_encoding (mojibake), written plainly."""
    out, entities = [], True
    for line in re.findall(r'[^\n]*\n|[^\n]+', text):  # segments end after each '\n' (inputs here are short)
        if '<' in line:
            entities = False
        out.append(_repair(line, entities))
    return ''.join(out)


def clean(text):
    text = fix_text(text)
    text = html.unescape(html.unescape(text))
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
