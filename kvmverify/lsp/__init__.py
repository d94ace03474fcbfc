"""`kvmverify lsp`: a Language Server (stdio) for .kv files, built on pygls (the optional extra `kvmverify[lsp]`).

    text.py         positions: kvmverify spans (1-based, code points) <-> LSP positions (0-based, UTF-16 by default)
    syntax.py       a file's index: its symbols and every name it mentions; a file that does not parse is parsed
                    declaration by declaration, so that a half-typed file keeps the index of the rest
    resolve.py      the declarations a model sees across its `use`d files; what an occurrence names
    fallback.py     what the text of a declaration being typed binds (locals, the expression before a `.`)
    project.py      the open documents and what kvmverify made of each (compile_model on the editor's buffers)
    diags.py        kvmverify diagnostics -> LSP diagnostics (code, severity, range, hint, related locations)
    navigate.py     definition and references;  hover.py;  symbols.py (the outline);  completion.py
    keywords.py     the language's keywords, read off the grammar
    check.py        the check action: kvmverify check in process, its results as diagnostics on the properties
    server.py       the pygls wiring (the only module that imports pygls)

Everything but server.py answers from plain data and lsprotocol types, so that the features are tested, and
fuzzed on prefixes of every shipped model, without a client (tests/test_lsp_fuzz.py); tests/test_lsp.py drives
the real server over stdio.
"""
