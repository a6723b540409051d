// A small, syntax-only view of Bicep files through tree-sitter-bicep (prebuilt native binding, works
// offline). No Bicep compiler can be installed here, so this checks shape, not types: what parses,
// which resources and API versions are declared, which keys an object literal holds.
import { readFileSync } from 'node:fs';

import Parser from 'tree-sitter';
import Bicep from 'tree-sitter-bicep';

export type BicepNode = Parser.SyntaxNode;

let parser: Parser | undefined;

function bicepParser(): Parser {
  if (!parser) {
    parser = new Parser();
    // tree-sitter-bicep types its language loosely; it is the object setLanguage expects.
    parser.setLanguage(Bicep as unknown as Parser.Language);
  }
  return parser;
}

export function parseBicep(source: string): BicepNode {
  return bicepParser().parse(source).rootNode;
}

export function parseBicepFile(path: string): BicepNode {
  return parseBicep(readFileSync(path, 'utf8'));
}

/** Every ERROR and missing node, as `ERROR@line:column` / `missing "}"@line:column` (1-based). */
export function syntaxProblems(root: BicepNode): string[] {
  const problems: string[] = [];
  const visit = (node: BicepNode): void => {
    const at = `${node.startPosition.row + 1}:${node.startPosition.column + 1}`;
    if (node.type === 'ERROR') problems.push(`ERROR@${at}`);
    else if (node.isMissing) problems.push(`missing "${node.type}"@${at}`);
    for (const child of node.children) visit(child);
  };
  if (root.hasError) visit(root);
  return problems;
}

/** The text of a plain string literal (`'abc'`), or undefined for interpolated or other nodes. */
export function stringValue(node: BicepNode | null | undefined): string | undefined {
  if (!node || node.type !== 'string') return undefined;
  if (node.namedChildren.some((c) => c.type === 'interpolation')) return undefined;
  return node.namedChildren.map((c) => (c.type === 'escape_sequence' ? c.text.slice(1) : c.text)).join('');
}

/** A property key as written: `name` or `'azd-service-name'`. */
function keyText(key: BicepNode): string {
  return stringValue(key) ?? key.text;
}

/** The direct properties of an object literal, key → value node. */
export function objectProperties(object: BicepNode): Map<string, BicepNode> {
  const properties = new Map<string, BicepNode>();
  for (const property of object.namedChildren) {
    if (property.type !== 'object_property') continue;
    const [key, value] = property.namedChildren;
    if (key && value) properties.set(keyText(key), value);
  }
  return properties;
}

/** Follows a path of keys through nested object literals: `property(body, 'properties', 'principalId')`. */
export function property(object: BicepNode | undefined, ...path: string[]): BicepNode | undefined {
  let current = object;
  for (const key of path) {
    if (!current || current.type !== 'object') return undefined;
    current = objectProperties(current).get(key);
  }
  return current;
}

/** Keys of every object literal under `node` (including `node` itself). */
export function allObjectKeys(node: BicepNode): string[] {
  const objects = node.type === 'object' ? [node] : [];
  objects.push(...node.descendantsOfType('object'));
  return objects.flatMap((o) => [...objectProperties(o).keys()]);
}

/** The object literal a declaration's value resolves to, looking through `if (...)` conditions. */
function bodyObject(node: BicepNode): BicepNode | undefined {
  const last = node.namedChildren[node.namedChildren.length - 1];
  if (!last) return undefined;
  if (last.type === 'object') return last;
  if (last.type === 'if_statement') return last.namedChildren.find((c) => c.type === 'object');
  return undefined;
}

export interface ResourceDeclaration {
  symbol: string;
  /** `Microsoft.Storage/storageAccounts` */
  type: string;
  /** `2023-05-01`, or undefined when the type string has no `@version`. */
  apiVersion: string | undefined;
  existing: boolean;
  line: number;
  body: BicepNode | undefined;
}

export function resourceDeclarations(root: BicepNode): ResourceDeclaration[] {
  return root.descendantsOfType('resource_declaration').map((node) => {
    const [symbol, typeString] = node.namedChildren;
    const typeText = stringValue(typeString) ?? '';
    const at = typeText.indexOf('@');
    return {
      symbol: symbol?.text ?? '',
      type: at < 0 ? typeText : typeText.slice(0, at),
      apiVersion: at < 0 ? undefined : typeText.slice(at + 1),
      existing: node.children.some((c) => c.type === 'existing'),
      line: node.startPosition.row + 1,
      body: bodyObject(node),
    };
  });
}

export interface ModuleDeclaration {
  symbol: string;
  path: string;
  body: BicepNode | undefined;
}

export function moduleDeclarations(root: BicepNode): ModuleDeclaration[] {
  return root.descendantsOfType('module_declaration').map((node) => {
    const [symbol, pathString] = node.namedChildren;
    return { symbol: symbol?.text ?? '', path: stringValue(pathString) ?? '', body: bodyObject(node) };
  });
}

export interface Declaration {
  name: string;
  /** The declared value (default value for a param), if any. */
  value: BicepNode | undefined;
  line: number;
  /** The comment lines directly above the declaration (decorators in between are skipped). */
  comment: string;
}

const DECLARATION_TYPES = {
  param: 'parameter_declaration',
  var: 'variable_declaration',
  output: 'output_declaration',
} as const;

export function declarations(root: BicepNode, kind: keyof typeof DECLARATION_TYPES): Declaration[] {
  return root.namedChildren
    .filter((node) => node.type === DECLARATION_TYPES[kind])
    .map((node) => {
      const named = node.namedChildren;
      const hasValue = node.children.some((c) => c.type === '=');
      const comments: string[] = [];
      let top = node.startPosition.row;
      for (let prev = node.previousNamedSibling; prev; prev = prev.previousNamedSibling) {
        if (prev.endPosition.row !== top - 1 || (prev.type !== 'comment' && prev.type !== 'decorators'))
          break;
        if (prev.type === 'comment') comments.unshift(prev.text);
        top = prev.startPosition.row;
      }
      return {
        name: named[0]?.text ?? '',
        value: hasValue ? named[named.length - 1] : undefined,
        line: node.startPosition.row + 1,
        comment: comments.join('\n'),
      };
    });
}
