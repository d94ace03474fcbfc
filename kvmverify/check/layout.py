"""Register and struct layouts, with the layout lint: overlaps, gaps, fields outside the width, misalignment."""
from __future__ import annotations

from ..diagnostics import Diagnostic
from ..lang import ast
from .types import CTYPES, FieldLayout, Layout

MAX_REGISTER_WIDTH = 512
MAX_STRUCT_SIZE = 4096


def _holes(width: int, fields: list[FieldLayout]) -> list[tuple[int, int]]:
    covered = [False] * width
    for f in fields:
        for b in range(max(f.lo, 0), min(f.lo + f.width, width)):
            covered[b] = True
    holes, start = [], None
    for b, c in enumerate([*covered, True]):
        if not c and start is None:
            start = b
        elif c and start is not None:
            holes.append((start, b - 1))
            start = None
    return holes


def _overlaps(fields: list[FieldLayout]) -> list[tuple[FieldLayout, FieldLayout]]:
    out = []
    for i, a in enumerate(fields):
        for b in fields[i + 1:]:
            if a.lo <= b.hi and b.lo <= a.hi:
                out.append((a, b))
    return out


def register_layout(decl: ast.RegisterDecl | ast.WordDecl, diags: list[Diagnostic]) -> Layout:
    """A register's bit layout, or a word's (the same fields, no MSR address; must_be/requires are about MSR
    writes, so a word refuses them: KV408)."""
    kind = "word" if isinstance(decl, ast.WordDecl) else "register"
    width = decl.width
    if not 1 <= width <= MAX_REGISTER_WIDTH:
        diags.append(Diagnostic("KV402", "error", f"{kind} {decl.name} has width {width}", decl.span,
                                f"a {kind} is 1 to {MAX_REGISTER_WIDTH} bits wide (MSRs are 64)"))
        width = max(1, min(width, MAX_REGISTER_WIDTH))
    fields: list[FieldLayout] = []
    seen: set[str] = set()
    for f in decl.fields:
        lo, hi = min(f.lo, f.hi), max(f.lo, f.hi)
        if f.name in seen:
            diags.append(Diagnostic("KV202", "error", f"field '{f.name}' is declared twice in {decl.name}", f.span))
            continue
        seen.add(f.name)
        if hi >= width:
            diags.append(Diagnostic("KV402", "error",
                                    f"field '{f.name}' (bits {hi}..{lo}) lies outside the {width}-bit register "
                                    f"{decl.name}", f.span, f"bits of {decl.name} are numbered 0..{width - 1}"))
            continue
        fw = hi - lo + 1
        if kind == "word" and (f.must_be is not None or f.requires is not None):
            diags.append(Diagnostic("KV408", "error", f"field '{f.name}' of word {decl.name} has "
                                    f"{'must_be' if f.must_be is not None else 'requires'}: a word is never written "
                                    "with `write`, so nothing would check it", f.span,
                                    "declare a register (register NAME at MSR : WIDTH) for an MSR, or state the "
                                    "rule as an invariant"))
        if f.must_be is not None and f.must_be >= 1 << fw:
            diags.append(Diagnostic("KV404", "error", f"must_be {f.must_be} does not fit the {fw}-bit field "
                                    f"'{f.name}'", f.span))
        fields.append(FieldLayout(f.name, lo, fw, f.requires, f.must_be, None, f.span))
    for a, b in _overlaps(fields):
        diags.append(Diagnostic("KV401", "warning", f"fields '{a.name}' (bits {a.hi}..{a.lo}) and '{b.name}' "
                                f"(bits {b.hi}..{b.lo}) of {decl.name} overlap", b.span,
                                "each bit belongs to one field; declare a union explicitly if both views are meant"))
    for lo, hi in _holes(width, fields):
        bits = f"bit {lo}" if lo == hi else f"bits {hi}..{lo}"
        diags.append(Diagnostic("KV405", "warning", f"{bits} of {decl.name} belong to no field", decl.span,
                                f"document them, e.g. `reserved @ {hi}..{lo} must_be 0` or `ignored @ {hi}..{lo}`"))
    return Layout(kind, decl.name, width, tuple(fields), address=getattr(decl, "address", None), span=decl.span)


def struct_layout(decl: ast.StructDecl, diags: list[Diagnostic]) -> Layout:
    size = decl.size
    if not 1 <= size <= MAX_STRUCT_SIZE:
        diags.append(Diagnostic("KV402", "error", f"struct {decl.name} has size {size}", decl.span,
                                f"a struct is 1 to {MAX_STRUCT_SIZE} bytes"))
        size = max(1, min(size, MAX_STRUCT_SIZE))
    fields: list[FieldLayout] = []
    seen: set[str] = set()
    extent = 0
    for f in decl.fields:
        if f.name in seen:
            diags.append(Diagnostic("KV202", "error", f"field '{f.name}' is declared twice in {decl.name}", f.span))
            continue
        seen.add(f.name)
        if f.ctype not in CTYPES:
            diags.append(Diagnostic("KV201", "error", f"unknown field type '{f.ctype}'", f.span,
                                    "struct fields are u8, u16, u32, u64 (or s8..s64), optionally arrays: u8[56]"))
            continue
        elem = CTYPES[f.ctype] // 8
        count = f.count if f.count is not None else 1
        if count < 1 or f.offset + elem * count > MAX_STRUCT_SIZE:
            diags.append(Diagnostic("KV402", "error", f"field '{f.name}' has an impossible size or offset", f.span))
            continue
        if f.offset % elem:
            diags.append(Diagnostic("KV407", "warning", f"field '{f.name}' ({f.ctype}) at byte {f.offset} is not "
                                    f"{elem}-byte aligned", f.span, "the C compiler would insert padding before it"))
        extent = max(extent, f.offset + elem * count)
        fields.append(FieldLayout(f.name, f.offset * 8, elem * count * 8, None, None, f.count, f.span))
    for a, b in _overlaps(fields):
        diags.append(Diagnostic("KV401", "warning", f"fields '{a.name}' (bytes {a.lo // 8}..{a.hi // 8}) and "
                                f"'{b.name}' (bytes {b.lo // 8}..{b.hi // 8}) of {decl.name} overlap", b.span))
    if extent > size:
        beyond = next(f for f in fields if f.lo // 8 + f.width // 8 > size)
        diags.append(Diagnostic("KV406", "warning", f"struct {decl.name} is {extent} bytes, larger than its "
                                f"declared size {size}: field '{beyond.name}' ends at byte {beyond.lo // 8 + beyond.width // 8}",
                                beyond.span, f"the memory area holds {size} bytes; a field past it lies outside the "
                                "area the guest registered"))
    width = max(size, extent)
    for lo, hi in _holes(width * 8, fields):
        diags.append(Diagnostic("KV405", "warning", f"bytes {lo // 8}..{hi // 8} of {decl.name} belong to no field",
                                decl.span, "declare padding explicitly, e.g. `pad: u8[N] @ offset`"))
    return Layout("struct", decl.name, width * 8, tuple(fields), declared_size=decl.size, span=decl.span)
