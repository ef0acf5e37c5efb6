/**
 * State diagrams generated from the machine definitions themselves (xstate/graph's directed
 * graph), never from hand-written copies: Mermaid `stateDiagram-v2` or a JSON node/edge list.
 */
import type { AnyStateMachine } from 'xstate';
import { toDirectedGraph } from 'xstate/graph';

export interface DiagramEdge {
  from: string;
  to: string;
  /** Readable event: `VERIFY`, `done: generating`, `error: generating`, `after 20 ms`, `always`. */
  event: string;
  guard: string | null;
}

export interface DiagramJson {
  machine: string;
  initial: string;
  states: { name: string; final: boolean }[];
  edges: DiagramEdge[];
}

interface GraphNode {
  id: string;
  stateNode: { type: string; key: string };
  children: GraphNode[];
  edges: { source: { id: string }; target: { id: string }; label: { text: string }; transition: { guard?: unknown } }[];
}

/** `xstate.done.actor.0.sampler.generating` → `done: generating`, `xstate.after.20.verifier.failed` → `after 20 ms`. */
export function readableEvent(type: string): string {
  if (type === '') return 'always';
  let m = /^xstate\.done\.actor\.\d+\.[^.]+\.(.+)$/.exec(type);
  if (m) return `done: ${m[1]}`;
  m = /^xstate\.error\.actor\.\d+\.[^.]+\.(.+)$/.exec(type);
  if (m) return `error: ${m[1]}`;
  m = /^xstate\.after\.(\d+)\./.exec(type);
  if (m) return `after ${m[1]} ms`;
  return type;
}

function guardName(g: unknown): string | null {
  if (!g) return null;
  if (typeof g === 'string') return g;
  if (typeof g === 'function') {
    const parts = (g as { guards?: unknown[] }).guards;
    if (Array.isArray(parts)) return parts.map(guardName).join(' and ');
    return g.name && g.name !== 'guard' ? g.name : 'condition';
  }
  const t = (g as { type?: unknown }).type;
  return typeof t === 'string' ? t : 'condition';
}

const local = (id: string, root: string) => (id === root ? '*' : id.slice(root.length + 1));

export function machineDiagram(machine: AnyStateMachine): DiagramJson {
  const g = toDirectedGraph(machine) as unknown as GraphNode;
  const root = g.id;
  const edges: DiagramEdge[] = [];
  const collect = (n: GraphNode) => {
    for (const e of n.edges)
      edges.push({
        from: local(e.source.id, root),
        to: local(e.target.id, root),
        event: readableEvent(e.label.text),
        guard: guardName(e.transition.guard),
      });
    n.children.forEach(collect);
  };
  collect(g);
  // Eventless (`always`) transitions are not in the directed graph: read them from the state nodes.
  type Def = { target?: { id: string }[]; guard?: unknown };
  const walkAlways = (node: { id: string; always?: Def[]; states: Record<string, unknown> }) => {
    for (const t of node.always ?? [])
      for (const target of t.target ?? [node])
        edges.push({
          from: local(node.id, root),
          to: local(target.id, root),
          event: 'always',
          guard: guardName(t.guard),
        });
    for (const c of Object.values(node.states)) walkAlways(c as typeof node);
  };
  walkAlways(machine.root as unknown as Parameters<typeof walkAlways>[0]);
  return {
    machine: machine.id,
    initial: String(
      (machine.root as unknown as { initial?: { target: { key: string }[] } }).initial?.target[0]?.key ?? '',
    ),
    states: g.children.map((c) => ({ name: local(c.id, root), final: c.stateNode.type === 'final' })),
    edges,
  };
}

/** Mermaid stateDiagram-v2. Transitions declared on the machine itself (from any state) start at `any`. */
export function toMermaid(machine: AnyStateMachine): string {
  const d = machineDiagram(machine);
  const id = (s: string) => (s === '*' ? 'any_state' : s.replace(/[^A-Za-z0-9_]/g, '_'));
  const lines = ['stateDiagram-v2', `  [*] --> ${id(d.initial)}`];
  if (d.edges.some((e) => e.from === '*')) lines.push('  state "any state" as any_state');
  for (const e of d.edges) {
    const label = `${e.event}${e.guard ? ` [${e.guard}]` : ''}`.replace(/:/g, '#colon;');
    lines.push(`  ${id(e.from)} --> ${id(e.to)} : ${label}`);
  }
  for (const s of d.states) if (s.final) lines.push(`  ${id(s.name)} --> [*]`);
  return lines.join('\n') + '\n';
}
