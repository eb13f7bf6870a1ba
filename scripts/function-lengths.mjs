#!/usr/bin/env node
// Lists every function, method, constructor, accessor and arrow function in the given folders or
// files (default src/) with its length in lines, longest first, so that the project's rule
// (functions under 60 lines) can be checked by reading one list. A function's lines run from its first token
// (its doc comment not counted) to its closing brace, both included; a nested function counts
// both on its own and inside the function that holds it.
//   node scripts/function-lengths.mjs [--min N] [--fail-at N] [folder or file ...]
// --min N: list only functions of at least N lines (default 1). --fail-at N: exit 1 when any
// function has N lines or more.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

function options(argv) {
  const o = { min: 1, failAt: Number.POSITIVE_INFINITY, folders: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--min") o.min = Number(argv[++i]);
    else if (argv[i] === "--fail-at") o.failAt = Number(argv[++i]);
    else o.folders.push(argv[i]);
  }
  if (o.folders.length === 0) o.folders.push("src");
  return o;
}

function tsFiles(dir) {
  if (!statSync(dir).isDirectory()) return [dir];
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return tsFiles(file);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [file] : [];
  });
}

/** A readable name for a function node: its own, its variable's or property's, else "<anonymous>". */
function nameOf(node) {
  if (node.name && ts.isIdentifier(node.name)) return node.name.text;
  if (node.name) return node.name.getText();
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) && parent.name) {
    return parent.name.getText();
  }
  if (parent && ts.isPropertyDeclaration(parent)) return parent.name.getText();
  if (parent && ts.isCallExpression(parent)) {
    const callee = parent.expression.getText().split(".").pop();
    return `<arrow in ${callee}()>`;
  }
  return "<anonymous>";
}

function functionsIn(file) {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const found = [];
  const visit = (node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line + 1;
      found.push({ lines: end - start + 1, where: `${file}:${start}`, name: nameOf(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const o = options(process.argv.slice(2));
const all = o.folders.flatMap(tsFiles).flatMap(functionsIn);
all.sort((a, b) => b.lines - a.lines || a.where.localeCompare(b.where));
for (const f of all.filter((f) => f.lines >= o.min)) console.log(`${f.lines}\t${f.where}\t${f.name}`);
const over = all.filter((f) => f.lines >= o.failAt);
if (over.length > 0) {
  console.error(`${over.length} function(s) of ${o.failAt} lines or more`);
  process.exit(1);
}
