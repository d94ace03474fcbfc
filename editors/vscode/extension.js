// The kvmverify extension: .kv highlighting (syntaxes/kv.tmLanguage.json) and the language server, started as
// `kvmverify lsp` (the kvmverify.server.command setting) and spoken to over stdio.
"use strict";
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("kvmverify");
  const [command, ...args] = config.get("server.command", ["kvmverify", "lsp"]);
  const serverOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [{ scheme: "file", language: "kv" }, { scheme: "untitled", language: "kv" }],
    initializationOptions: {
      checkTimeout: config.get("check.timeout", 30),
      engine: config.get("check.engine", "auto"),
    },
  };
  client = new LanguageClient("kvmverify", "kvmverify", serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.commands.registerCommand("kvmverify.checkActiveFile", () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor || editor.document.languageId !== "kv") {
        vscode.window.showWarningMessage("kvmverify: open a .kv model first");
        return undefined;
      }
      // the server's command: runs `kvmverify check` on the buffer, results appear as diagnostics
      return client.sendRequest("workspace/executeCommand", {
        command: "kvmverify.check",
        arguments: [editor.document.uri.toString()],
      });
    })
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
