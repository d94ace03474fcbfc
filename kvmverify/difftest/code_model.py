"""The code-level constructs in generated models (a mixin of model.py's `Gen`, and their `.kv` text): a queue
`qu : queue[2] of 0 .. 2`, an option `o : option 0 .. 2`, a procedure `pr(z: 0 .. 2)`, a process `w` (with or
without a parameter) made of labelled segments and loops, `transition` properties over old(...), a `terminal`.

Statements: ("push", e) ("pop",) ("clear",) on qu; ("call", e) of pr; ("await", c).
Expressions: ("none",) ("some", e) ("get",) (get(o)) ("len",) ("head",) ("empty",) ("full",) ("inq", e) (e in qu)
("old", e) (transitions only) ("at", index expr | None, label).
A process is (name, param | None, segments); a segment is ("seg", label, await cond | None, statements) or
("loop", head label, cond, body label, statements): `H: while c { B: statements }`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

QSIZE = 2
ELEM = (0, 2)  # the queue's and the option's element range


@dataclass
class Process:
    name: str
    param: tuple[str, int, int] | None
    segments: list

    def labels(self) -> list[str]:
        """Its points in order (the entry first, `done` last), as kvmverify numbers them."""
        out = []
        for seg in self.segments:
            out += [seg[1]] if seg[0] == "seg" else [seg[1], seg[3]]
        return out + ["done"]


@dataclass
class CodeParts:
    queue: bool = False
    option: bool = False
    proc: list | None = None  # the body of pr(z: 0 .. 2)
    processes: list[Process] = field(default_factory=list)
    transitions: list[tuple[str, tuple]] = field(default_factory=list)
    terminal: tuple | None = None


class CodeGen:
    """Generation of the code-level parts; needs Gen's chance/block/expr/bool_expr/int_leaves."""

    def code_vars(self) -> CodeParts:
        code = CodeParts(queue=self.chance(0.3), option=self.chance(0.3))
        return code

    def code_int_leaves(self) -> list[tuple]:
        from .model import Int
        code = self.m.code
        out = []
        if code.option:
            out.append((("get",), Int(*ELEM)))
        if code.queue:
            out += [(("len",), Int(0, QSIZE)), (("head",), Int(*ELEM))]
        return out

    def code_bool_leaves(self) -> list[tuple]:
        r, code = self.r, self.m.code
        out = []
        if code.option:
            out.append(("bin", r.choice(["==", "!="]), ("var", "o"),
                        ("none",) if self.chance(0.4) else ("some", ("int", r.randint(*ELEM)))))
        if code.queue:
            out.append(r.choice([("empty",), ("full",), ("inq", ("int", r.randint(*ELEM)))]))
        for p in code.processes if self.at_ok else ():
            idx = ("int", r.randint(p.param[1], p.param[2])) if p.param else None
            out.append(("at", p.name, idx, r.choice(p.labels())))
        return out

    def code_stmt(self, depth: int, actor: str) -> tuple | None:
        """A code-level statement, or None when the model has none to offer here."""
        r, code = self.r, self.m.code
        kinds = []
        if code.queue:
            kinds += ["push", "push", "pop", "clear"]
        if code.option:
            kinds += ["option"]
        if code.proc is not None and not self.in_proc:
            kinds += ["call"]
        kinds += ["await"]
        match r.choice(kinds):
            case "push":
                return ("push", self.elem_expr())
            case "pop":
                return ("pop",)
            case "clear":
                return ("clear",)
            case "option":
                value = ("none",) if self.chance(0.3) else ("some", self.elem_expr())
                return ("assign", ("var", "o"), value)
            case "call":
                return ("call", self.elem_expr())
            case "await":
                self.in_statement, outer = False, self.in_statement
                c = self.bool_expr(1)
                self.in_statement = outer
                return ("await", c)
        raise AssertionError

    def elem_expr(self) -> tuple:
        """An expression whose values lie in 0 .. 2 (a queue element, an option's value, pr's argument)."""
        leaves = [("int", self.r.randint(*ELEM))]
        leaves += [leaf for leaf, t in self.int_leaves() if ELEM[0] <= t.lo and t.hi <= ELEM[1]]
        return self.r.choice(leaves)

    def make_proc(self) -> list:
        from .model import Int
        self.locals = [("z", Int(*ELEM))]
        self.in_statement, self.in_proc = True, True
        body = self.block(1, "pr")
        self.in_statement, self.in_proc = False, False
        self.locals = []
        return body

    def make_process(self) -> Process:
        from .model import Int
        r = self.r
        param = ("i", 0, 1) if self.chance(0.5) else None
        segments = []
        n = 0
        for _ in range(r.randint(2, 3)):
            self.locals = [(param[0], Int(param[1], param[2]))] if param else []
            self.in_statement = True
            if self.chance(0.3):
                self.in_statement = False
                cond = self.bool_expr(1)
                self.in_statement = True
                segments.append(("loop", f"L{n}", cond, f"L{n + 1}", self.block(1, "w")))
                n += 2
            else:
                wait = None
                if self.chance(0.4):
                    self.in_statement = False
                    wait = self.bool_expr(1)
                    self.in_statement = True
                segments.append(("seg", f"L{n}", wait, self.block(1, "w")))
                n += 1
            self.in_statement = False
        self.locals = []
        return Process("w", param, segments)

    def make_transition(self) -> tuple:
        r = self.r
        leaves = self.int_leaves()
        if leaves and self.chance(0.8):
            leaf, _ = r.choice(leaves)
            other, _ = r.choice(leaves)
            cmp = ("bin", r.choice(["<=", "==", "!=", ">="]), ("old", leaf), other)
        else:
            cmp = ("bin", "==", ("old", ("var", "c")), ("var", "c"))
        return ("bin", "||", cmp, self.bool_expr(1)) if self.chance(0.5) else cmp


# ---------------------------------------------------------------------------------------------- the .kv text


def kv_code_decls(m) -> list[str]:
    code = m.code
    out = []
    if code.queue:
        out.append(f"var qu : queue[{QSIZE}] of {ELEM[0]} .. {ELEM[1]} = []")
    if code.option:
        out.append(f"var o : option {ELEM[0]} .. {ELEM[1]} = none")
    return out


def kv_code_tail(m, kv_block, kv_expr) -> list[str]:
    code = m.code
    out = []
    if code.proc is not None:
        out.append(f"proc pr(z: {ELEM[0]} .. {ELEM[1]}) {{")
        out += kv_block(code.proc, 1)
        out.append("}")
    for p in code.processes:
        param = f"{p.param[0]}: {p.param[1]} .. {p.param[2]}" if p.param else ""
        out.append(f"process {p.name}({param}) {{")
        for seg in p.segments:
            if seg[0] == "seg":
                _, label, wait, stmts = seg
                out.append(f"    {label}:")
                if wait is not None:
                    out.append(f"    await {kv_expr(wait)}")
                out += kv_block(stmts, 1)
            else:
                _, head, cond, body, stmts = seg
                out.append(f"    {head}: while {kv_expr(cond)} {{")
                out.append(f"        {body}:")
                out += kv_block(stmts, 2)
                out.append("    }")
        out.append("}")
    out += [f"transition {n}: {kv_expr(e)}" for n, e in code.transitions]
    if code.terminal is not None:
        out.append(f"terminal {kv_expr(code.terminal)}")
    return out


def kv_code_stmt(s: tuple, pad: str, kv_expr) -> str | None:
    match s:
        case ("push", e):
            return f"{pad}push(qu, {kv_expr(e)})"
        case ("pop",):
            return f"{pad}pop(qu)"
        case ("clear",):
            return f"{pad}clear(qu)"
        case ("call", e):
            return f"{pad}pr({kv_expr(e)})"
        case ("await", c):
            return f"{pad}await {kv_expr(c)}"
    return None


def kv_code_expr(e: tuple, kv_expr) -> str | None:
    match e:
        case ("none",):
            return "none"
        case ("some", x):
            return f"some({kv_expr(x)})"
        case ("get",):
            return "get(o)"
        case ("len",):
            return "len(qu)"
        case ("head",):
            return "head(qu)"
        case ("empty",):
            return "empty(qu)"
        case ("full",):
            return "full(qu)"
        case ("inq", x):
            return f"({kv_expr(x)} in qu)"
        case ("old", x):
            return f"old({kv_expr(x)})"
        case ("at", name, idx, label):
            return f"at({name}({kv_expr(idx)}), {label})" if idx is not None else f"at({name}, {label})"
    return None
