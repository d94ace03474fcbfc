"""`kvmverify lsp`: a Language Server (stdio) for .kv files, built on pygls (the optional extra `kvmverify[lsp]`).

    text.py         positions: kvmverify spans (1-based, code points) <-> LSP positions (0-based, UTF-16 by default)
    syntax.py       each file parsed declaration by declaration, so that a half-typed file still has an index:
                    its symbols and every name it mentions, resolved to locals where the scope says so
    project.py      the open documents, their analyses (compile_model on the editor's buffers) and the queries
    diags.py        kvmverify diagnostics -> LSP diagnostics (code, severity, range, hint, related locations)
    resolve.py      which declaration a name, a field or a `use` path at a position means; references
    hover.py, symbols.py, completion.py, check.py   the features
    server.py       the pygls wiring (the only module that imports pygls)

Everything but server.py answers from plain data and lsprotocol types, so that the features are tested, and
fuzzed on every prefix of every shipped model, without a client.
"""
