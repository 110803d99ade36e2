import { readFile } from 'node:fs/promises';
import type { KubernetesObject } from '@kubernetes/client-node';

/** One permission: a verb on a resource (with `/subresource`) of an API group. */
export interface Permission {
  apiGroup: string;
  resource: string;
  verb: string;
  /** Only in this namespace (a Role); unset: every namespace (a ClusterRole binding). */
  namespace?: string;
  /** Only this object (`resourceNames`). */
  name?: string;
}

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}
interface Role extends KubernetesObject {
  rules?: PolicyRule[];
}
interface Binding extends KubernetesObject {
  roleRef: { kind: string; name: string };
  subjects?: Array<{ kind: string; name: string; namespace?: string }>;
}

const RBAC_KINDS = new Set([
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
]);

/** The ServiceAccounts and RBAC objects of a set of manifests (what a suite runs under). */
export function rbacObjects(objects: KubernetesObject[]): KubernetesObject[] {
  return objects.filter((o) => RBAC_KINDS.has(o.kind ?? ''));
}

/** Every permission the manifests' bindings grant to a ServiceAccount, one per verb. */
export function grantedPermissions(
  objects: KubernetesObject[],
  account: { namespace: string; name: string },
): Permission[] {
  const roles = new Map<string, Role>();
  for (const o of objects) {
    if (o.kind === 'ClusterRole') roles.set(`ClusterRole/${o.metadata?.name}`, o as Role);
    if (o.kind === 'Role')
      roles.set(`Role/${o.metadata?.namespace}/${o.metadata?.name}`, o as Role);
  }
  const granted: Permission[] = [];
  for (const o of objects) {
    if (o.kind !== 'ClusterRoleBinding' && o.kind !== 'RoleBinding') continue;
    const b = o as Binding;
    const bound = b.subjects?.some(
      (s) =>
        s.kind === 'ServiceAccount' && s.name === account.name && s.namespace === account.namespace,
    );
    if (!bound) continue;
    const namespace = o.kind === 'RoleBinding' ? o.metadata?.namespace : undefined;
    const key =
      b.roleRef.kind === 'Role'
        ? `Role/${namespace}/${b.roleRef.name}`
        : `ClusterRole/${b.roleRef.name}`;
    const role = roles.get(key);
    if (!role)
      throw new Error(`${o.kind} ${o.metadata?.name} refers to ${key}, not in the manifests`);
    for (const rule of role.rules ?? [])
      for (const apiGroup of rule.apiGroups ?? [''])
        for (const resource of rule.resources ?? [])
          for (const verb of rule.verbs)
            for (const name of rule.resourceNames ?? [undefined])
              granted.push({
                apiGroup,
                resource,
                verb,
                ...(namespace ? { namespace } : {}),
                ...(name ? { name } : {}),
              });
  }
  return granted;
}

/** A request the API server audited: who, what, and whether RBAC allowed it. */
export interface AuditedRequest extends Permission {
  user: string;
  allowed: boolean;
}

interface AuditEvent {
  user?: { username?: string };
  verb?: string;
  objectRef?: {
    apiGroup?: string;
    resource?: string;
    subresource?: string;
    namespace?: string;
    name?: string;
  };
  annotations?: Record<string, string>;
  responseStatus?: { code?: number };
}

/** The resource requests of one user in an audit log (`auditLog` control planes). */
export async function auditedRequests(path: string, user: string): Promise<AuditedRequest[]> {
  const out: AuditedRequest[] = [];
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    if (!line.includes(user)) continue;
    const e = JSON.parse(line) as AuditEvent;
    const ref = e.objectRef;
    if (e.user?.username !== user || !ref?.resource || !e.verb) continue;
    const code = e.responseStatus?.code;
    const request: AuditedRequest = {
      user,
      apiGroup: ref.apiGroup ?? '',
      resource: ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource,
      verb: e.verb,
      ...(ref.namespace ? { namespace: ref.namespace } : {}),
      ...(ref.name ? { name: ref.name } : {}),
      // A server-side apply that creates is authorized twice, as patch and then as create;
      // the second check's refusal shows only as a 403.
      allowed: e.annotations?.['authorization.k8s.io/decision'] === 'allow' && code !== 403,
    };
    out.push(request);
    if (e.verb === 'patch' && (code === 201 || code === 403)) {
      out.push({ ...request, verb: 'create' });
    }
  }
  return out;
}

function covers(p: Permission, r: AuditedRequest): boolean {
  return (
    p.apiGroup === r.apiGroup &&
    p.resource === r.resource &&
    p.verb === r.verb &&
    (p.namespace === undefined || p.namespace === r.namespace) &&
    (p.name === undefined || p.name === r.name)
  );
}

/** Shows a permission the way `kubectl auth can-i` names it. */
export function describePermission(p: Permission): string {
  const group = p.apiGroup ? `.${p.apiGroup}` : '';
  const [resource, sub] = p.resource.split('/');
  const where = p.namespace ? ` in ${p.namespace}` : '';
  return `${p.verb} ${resource}${group}${sub ? `/${sub}` : ''}${p.name ? `/${p.name}` : ''}${where}`;
}

/** Permissions granted and never used, and requests refused, over an audit log. */
export function permissionReport(
  granted: Permission[],
  requests: AuditedRequest[],
): { unused: string[]; refused: string[] } {
  const allowed = requests.filter((r) => r.allowed);
  const unused = granted.filter((p) => !allowed.some((r) => covers(p, r))).map(describePermission);
  const refused = [
    ...new Set(requests.filter((r) => !r.allowed).map((r) => describePermission(r))),
  ];
  return { unused: [...new Set(unused)], refused };
}
