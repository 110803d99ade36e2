import {
  type EventRecorder,
  type InformerScope,
  type Manager,
  notFoundIsUndefined,
  type Request,
  type ResourceType,
  type Result,
  setCondition,
} from '@chousei/runtime';
import { ClusterIssuers, type Issuer as IssuerResource, Issuers } from '../api/types.js';
import { IssuanceError } from '../issuance.js';
import { ACMEIssuer } from '../issuers/acme/index.js';
import { servesClusterIssuers } from '../scope.js';
import { type IssuerBuilder, weakTsigWarnings } from './issuer-builder.js';

export interface IssuerControllerOptions {
  manager: Manager;
  issuers: IssuerBuilder;
  events: EventRecorder;
  clusterResourceNamespace: string;
  /** The operator's one scope of namespaced kinds (see servedScope). */
  scope: InformerScope;
}

/**
 * Checks each Issuer and ClusterIssuer (not in one namespace) and reports Ready with the
 * reason it is not: a missing or invalid CA Secret, a bad ACME server URL, a refused
 * registration. ACME accounts are registered here, once per issuer and key.
 */
export function issuerControllers(opts: IssuerControllerOptions) {
  const { manager, events } = opts;
  const make =
    (rt: ResourceType<IssuerResource>, kind: 'Issuer' | 'ClusterIssuer') =>
    async (req: Request): Promise<Result | undefined> => {
      // ClusterIssuers have no namespace: their informer is the cluster-wide one.
      const scope = kind === 'Issuer' ? opts.scope : {};
      const issuer = await manager.cache.get(rt, req, scope).catch(notFoundIsUndefined);
      if (!issuer) return;
      const namespace =
        kind === 'ClusterIssuer'
          ? opts.clusterResourceNamespace
          : (issuer.metadata?.namespace ?? '');
      let ready: { status: 'True' | 'False'; reason: string; message: string };
      let acme: { uri: string; lastRegisteredEmail?: string } | undefined;
      try {
        const built = await opts.issuers.build({ kind, namespace, resource: issuer });
        if (built instanceof ACMEIssuer) {
          const uri = await built.ensureAccount();
          acme = {
            uri,
            ...(issuer.spec.acme?.email ? { lastRegisteredEmail: issuer.spec.acme.email } : {}),
          };
          ready = {
            status: 'True',
            reason: 'ACMEAccountRegistered',
            message: `The ACME account was registered with ${issuer.spec.acme?.server}`,
          };
        } else {
          ready = {
            status: 'True',
            reason: built.kind === 'CA' ? 'KeyPairVerified' : 'IsReady',
            message: `${built.kind} issuer is ready`,
          };
        }
      } catch (err) {
        const reason = err instanceof IssuanceError ? err.reason : 'ErrorConfig';
        ready = { status: 'False', reason, message: (err as Error).message };
      }
      const { conditions, changed } = setCondition(issuer.status?.conditions, {
        type: 'Ready',
        ...ready,
        observedGeneration: issuer.metadata?.generation,
      });
      if (changed || (acme && issuer.status?.acme?.uri !== acme.uri)) {
        await manager.client.patchStatus(
          rt,
          { ...(req.namespace ? { namespace: req.namespace } : {}), name: req.name },
          {
            type: 'merge',
            patch: {
              status: {
                conditions,
                observedGeneration: issuer.metadata?.generation,
                ...(acme ? { acme } : {}),
              },
            },
          },
        );
        events.event(
          issuer,
          ready.status === 'True' ? 'Normal' : 'Warning',
          ready.reason,
          'Check',
          ready.message,
        );
        for (const warning of weakTsigWarnings(issuer.spec))
          events.event(issuer, 'Warning', 'WeakTSIGAlgorithm', 'Check', warning);
      }
      // Not ready: look again later (a Secret may appear); ready: only when it changes.
      return ready.status === 'False' ? { requeueAfter: 30_000 } : undefined;
    };
  manager.controller('issuers').for(Issuers, opts.scope).complete(make(Issuers, 'Issuer'));
  if (!servesClusterIssuers(opts.scope)) return;
  manager
    .controller('clusterissuers')
    .for(ClusterIssuers)
    .complete(make(ClusterIssuers, 'ClusterIssuer'));
}
