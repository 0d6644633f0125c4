#!/usr/bin/env node
// Syntax check of a Bicep file with the tree-sitter-bicep grammar (pinned in package.json), because no
// Bicep compiler can be installed where tenantsync is developed and tested. It catches what a parser
// can: unbalanced braces, broken strings, malformed declarations and expressions. It knows nothing
// about resource types or properties (infra/bicep_test.go and the ROLE table cover those).
// Usage: node infra/check-bicep.js FILE.bicep ; exit 1 and one line per error when the grammar fails.
'use strict';
const fs = require('fs');
const Parser = require('tree-sitter');
const Bicep = require('tree-sitter-bicep');

const file = process.argv[2];
if (!file) {
  console.error('usage: check-bicep.js FILE.bicep');
  process.exit(2);
}
const src = fs.readFileSync(file, 'utf8');
const parser = new Parser();
parser.setLanguage(Bicep);
// bufferSize: the node binding otherwise refuses inputs over 32 KiB.
const tree = parser.parse(src, null, { bufferSize: Buffer.byteLength(src) * 2 + 1 });

const errors = [];
(function walk(node) {
  if (node.type === 'ERROR' || node.isMissing) {
    const at = `${file}:${node.startPosition.row + 1}:${node.startPosition.column + 1}`;
    const what = node.isMissing ? `missing ${node.type}` : 'syntax error near ' + JSON.stringify(src.slice(node.startIndex, node.startIndex + 60));
    errors.push(`${at}: ${what}`);
    return;
  }
  for (const child of node.children) walk(child);
})(tree.rootNode);

if (tree.rootNode.childCount === 0) errors.push(`${file}: no declarations parsed`);
if (errors.length > 0) {
  for (const e of errors) console.error(e);
  process.exit(1);
}
console.log(`${file}: ${tree.rootNode.childCount} declarations, syntax OK`);
