/**
 * The API's write semantics over the store, as the Kubernetes API server applies them: bodies are
 * validated and defaulted by the manifest module (422 with field causes); create sets uid,
 * creationTimestamp and generation and resets controller-owned status; update keeps status (and
 * the status subresource keeps everything but status); generation moves when the spec does;
 * namespaced objects need their Namespace.
 */
import { recordUpdate, serverSideApply, type ManagedFieldsEntry } from './managed-fields.js';
import { randomUUID } from 'node:crypto';
import { randomSuffix } from '../api/names.js';
import { BerthError, isBerthError } from '../api/errors.js';
import { parseFieldSelector } from '../api/fields.js';
import { KINDS, apiVersionOf, type KindInfo } from '../api/kinds.js';
import {
  finalizedBy,
  finalizingDeletion,
  gracefulDeletion,
  prepareCreate,
  prepareUpdate,
  timestamp,
} from '../api/lifecycle.js';
import { parseSelector } from '../api/selector.js';
import { DEFAULT_SERVICE_CIDR, type ServiceObject } from '../api/services.js';
import { parseCidr, type Cidr } from '../api/cidr.js';
import { ALLOCATION_ATTEMPTS, allocateServices, lostAllocationRace } from '../runtime/service-allocation.js';
import { normalizeObject, renderPath, type Finding } from '../manifest/index.js';
import type { KubeObject, ListResult, Store, TxnOp } from '../store/types.js';
import { createAdmitted } from '../runtime/quota.js';
import { BUILTIN_NAMESPACES } from '../api/namespaces.js';
import { getIfExists } from '../store/lookup.js';
import { applyPatch } from './patch.js';
import type { ResourceRequest } from './routes.js';

export const PROPAGATION_POLICIES = ['Background', 'Foreground', 'Orphan'] as const;

/** Another deleter (or the garbage collector) got there first: nothing left to do. */
function ignoreGone(e: unknown): undefined {
  if (isBerthError(e, 'NotFound') || isBerthError(e, 'Conflict')) return undefined;
  throw e;
}

export interface InvalidCause {
  field: string;
  message: string;
  reason: string;
}

export class InvalidObjectError extends BerthError {
  constructor(
    readonly kind: string,
    readonly objectName: string,
    causes: InvalidCause[],
  ) {
    super(
      'Invalid',
      `${kind} "${objectName}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join('; ')}`,
      { causes },
    );
  }
}

export interface WriteResult {
  object: KubeObject;
  warnings: string[];
}

/** A write about to be stored, for admission to look at: the new object and the stored one. */
export interface AdmissionRequest {
  verb: 'create' | 'update';
  info: KindInfo;
  subresource?: string;
  object: KubeObject;
  current?: KubeObject;
}

/**
 * Refuses a write by throwing (Forbidden, Invalid); may complete the object in place (LimitRange
 * defaults); returns store operations to commit in the same transaction as the write (a quota's
 * charge), if any.
 */
export type Admission = (write: AdmissionRequest) => Promise<TxnOp[] | void>;

export interface WriteOptions {
  /** fieldValidation=Strict: unknown fields are errors, not warnings. */
  strict?: boolean;
  /** Runs after validation and defaulting, just before the object is stored. */
  admit?: Admission;
  /**
   * dryRun=All: everything a write does — validation, defaulting, admission, preconditions, the
   * answer — except storing it (no quota charged, no dependent touched).
   */
  dryRun?: boolean;
  /** Who writes (`?fieldManager=`, else the client's user agent): the owner of what it changes. */
  fieldManager?: string;
  /** A server-side apply's own ownership record, instead of the Update one a write gets. */
  managedFields?: ManagedFieldsEntry[];
}

/** The manager of a write whose client names none. */
export const DEFAULT_MANAGER = 'unknown';

export class Registry {
  /** Service writes one at a time: two must not be given the same NodePort or proxy port. */
  private serviceWrites: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly now: () => Date = () => new Date(),
    private readonly serviceCidr: Cidr = parseCidr(DEFAULT_SERVICE_CIDR),
  ) {}

  private ref(req: ResourceRequest, name = req.name!) {
    return {
      group: req.info.group,
      kind: req.info.kind,
      namespace: req.info.namespaced ? (req.namespace ?? '') : '',
      name,
    };
  }

  get(req: ResourceRequest): Promise<KubeObject> {
    return this.store.get(this.ref(req)).catch((e) => {
      throw notFound(e, req.info, req.name!);
    });
  }

  list(req: ResourceRequest, query: URLSearchParams): Promise<ListResult> {
    const limit = query.get('limit');
    if (limit !== null && !/^[0-9]+$/.test(limit))
      throw new BerthError('BadRequest', `limit must be a non-negative integer, not ${JSON.stringify(limit)}`);
    for (const [param, parse] of [
      ['labelSelector', parseSelector],
      ['fieldSelector', parseFieldSelector],
    ] as const) {
      const value = query.get(param);
      try {
        if (value) parse(value);
      } catch (e) {
        // As Kubernetes: a selector that does not parse is a bad request, not an invalid object.
        throw new BerthError('BadRequest', `invalid ${param}: ${(e as Error).message}`);
      }
    }
    return this.store.list({
      group: req.info.group,
      kind: req.info.kind,
      ...(req.namespace !== undefined ? { namespace: req.namespace } : {}),
      ...(query.get('labelSelector') ? { labelSelector: query.get('labelSelector')! } : {}),
      ...(query.get('fieldSelector') ? { fieldSelector: query.get('fieldSelector')! } : {}),
      ...(limit ? { limit: Number(limit) } : {}),
      ...(query.get('continue') ? { continue: query.get('continue')! } : {}),
    });
  }

  async create(req: ResourceRequest, body: unknown, options: WriteOptions = {}): Promise<WriteResult> {
    if (req.subresource)
      throw new BerthError('MethodNotAllowed', `cannot create ${req.info.plural}/${req.subresource}`);
    const { object, warnings } = this.validate(req, body, options.strict === true);
    const meta = prepareCreate(object, this.now(), randomUUID()).metadata;
    // Field ownership is recorded from an object's first server-side apply on (see replace()).
    if (options.managedFields) meta.managedFields = options.managedFields;
    if (req.info.namespaced) await this.requireNamespace(meta.namespace!);
    // Admission again when a quota it charged moved meanwhile (another create took its share).
    const admitted = options.dryRun
      ? async (o: KubeObject) => {
          if (await getIfExists(this.store, this.ref(req, o.metadata.name)))
            throw new BerthError('AlreadyExists', 'exists');
          await options.admit?.({ verb: 'create', info: req.info, object: o });
          return o;
        }
      : (o: KubeObject, lock: TxnOp[] = []) =>
          createAdmitted(this.store, [o], async ([x]) => [
            ...lock,
            ...((await options.admit?.({ verb: 'create', info: req.info, object: x! })) ?? []),
          ]).then(([c]) => c!);
    try {
      if (req.info.kind === 'Service')
        return { object: await this.withServiceAllocations(object, undefined, admitted), warnings };
      return { object: await admitted(object), warnings };
    } catch (e) {
      if (isBerthError(e, 'AlreadyExists'))
        throw new BerthError(
          'AlreadyExists',
          `${req.info.plural}${groupSuffix(req.info)} "${meta.name}" already exists`,
        );
      throw e;
    }
  }

  async update(req: ResourceRequest, body: unknown, options: WriteOptions = {}): Promise<WriteResult> {
    const current = await this.get(req);
    return this.replace(req, current, body, options, revisionIn(body));
  }

  async patch(
    req: ResourceRequest,
    contentType: string,
    body: unknown,
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    // Read, patch, write with the read revision as the precondition; retry if someone wrote between.
    for (let attempt = 0; ; attempt++) {
      const current = await this.get(req);
      const { metadata, ...rest } = current;
      const { resourceVersion, ...meta } = metadata;
      const patched = applyPatch(contentType, { ...rest, metadata: meta }, body);
      try {
        return await this.replace(req, current, patched, options, Number(resourceVersion));
      } catch (e) {
        if (!isBerthError(e, 'Conflict') || attempt >= 5 || revisionIn(body) !== undefined) throw e;
      }
    }
  }

  /**
   * Server-side apply (PATCH application/apply-patch+yaml): the configuration merged into the
   * object as `manager`'s (api: server/managed-fields), created when there is none; 409 on a
   * conflict with another manager unless `force`.
   */
  async apply(
    req: ResourceRequest,
    config: Record<string, unknown>,
    manager: string,
    force: boolean,
    options: WriteOptions = {},
  ): Promise<WriteResult & { created: boolean }> {
    const meta = (config.metadata ?? {}) as { name?: unknown; namespace?: unknown };
    if (meta.name !== undefined && meta.name !== req.name)
      throw new BerthError(
        'BadRequest',
        `the name in the apply configuration (${JSON.stringify(meta.name)}) does not match the URL's (${JSON.stringify(req.name)})`,
      );
    const named = {
      ...config,
      metadata: {
        ...(config.metadata as object),
        name: req.name,
        ...(req.info.namespaced ? { namespace: req.namespace } : {}),
      },
    };
    for (let attempt = 0; ; attempt++) {
      const current = await getIfExists(this.store, this.ref(req));
      const time = timestamp(this.now());
      const result = serverSideApply(current as never, named as never, manager, force, time);
      try {
        if (!current)
          return {
            ...(await this.create({ ...req, verb: 'create' }, result.object, {
              ...options,
              managedFields: result.managedFields,
            })),
            created: true,
          };
        return {
          ...(await this.replace(
            req,
            current,
            result.object,
            { ...options, managedFields: result.managedFields },
            Number(current.metadata.resourceVersion),
          )),
          created: false,
        };
      } catch (e) {
        // Someone wrote between the read and the write (or created it): apply to what is there now.
        if (
          (!isBerthError(e, 'Conflict') && !isBerthError(e, 'AlreadyExists')) ||
          /Apply failed/.test((e as Error).message) ||
          attempt >= 5
        )
          throw e;
      }
    }
  }

  private async replace(
    req: ResourceRequest,
    current: KubeObject,
    body: unknown,
    options: WriteOptions,
    expected: number | undefined,
  ): Promise<WriteResult> {
    const { object, warnings } = this.validate(req, body, options.strict === true);
    if (object.metadata.uid !== undefined && object.metadata.uid !== current.metadata.uid)
      throw new BerthError(
        'Conflict',
        `uid ${object.metadata.uid} does not match the stored object's (${current.metadata.uid})`,
      );
    // The status subresource writes status and nothing else; the main resource everything else.
    const next: KubeObject =
      req.subresource === 'status' ? { ...current, status: object.status } : prepareUpdate(current, object);
    delete next.metadata.resourceVersion;
    if (current.metadata.deletionTimestamp) {
      const added = (next.metadata.finalizers ?? []).filter((f) => !current.metadata.finalizers?.includes(f));
      if (added.length)
        throw new BerthError(
          'Invalid',
          `${req.info.kind} "${req.name}" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
        );
    }
    // Who owns which field, once the object has been server-side applied (before that, its first
    // apply gives everything it has to "before-first-apply", as Kubernetes does for objects
    // without managedFields): the writer takes what it changed; status is its subresource's.
    // Not recorded for every write: on objects nobody applies it would only cost size and time.
    const before = current.metadata.managedFields as ManagedFieldsEntry[] | undefined;
    next.metadata.managedFields =
      options.managedFields ??
      (req.subresource === 'status' || !before?.length
        ? before
        : recordUpdate(
            current,
            next,
            before,
            options.fieldManager ?? DEFAULT_MANAGER,
            next.apiVersion,
            timestamp(this.now()),
          ));
    if (!next.metadata.managedFields) delete next.metadata.managedFields;
    await options.admit?.({
      verb: 'update',
      info: req.info,
      object: next,
      current,
      ...(req.subresource ? { subresource: req.subresource } : {}),
    });
    // Its last finalizer taken off, an object marked for deletion goes (as in Kubernetes).
    if (finalizedBy(current, next) && !options.dryRun) {
      const gone = await this.store
        .delete(this.ref(req), { expectedRevision: expected ?? Number(current.metadata.resourceVersion) })
        .catch((e) => {
          throw notFound(e, req.info, req.name!);
        });
      await this.cascade(gone, 'Background');
      return { object: { ...gone, metadata: { ...gone.metadata, finalizers: next.metadata.finalizers } }, warnings };
    }
    const write = options.dryRun
      ? (o: KubeObject) => dryRunUpdate(current, o, expected)
      : async (o: KubeObject, lock: TxnOp[] = []) =>
          lock.length
            ? (
                await this.store.txn([
                  ...lock,
                  { op: 'update', object: o, ...(expected !== undefined ? { expectedRevision: expected } : {}) },
                ])
              ).results[lock.length]!
            : this.store.update(o, { expectedRevision: expected });
    const written = await (
      req.info.kind === 'Service' && !req.subresource ? this.withServiceAllocations(next, current, write) : write(next)
    ).catch((e) => {
      if (isBerthError(e, 'Conflict')) {
        throw new BerthError(
          'Conflict',
          `Operation cannot be fulfilled on ${req.info.plural}${groupSuffix(req.info)} "${req.name}": the object has been modified; please apply your changes to the latest version and try again`,
        );
      }
      throw notFound(e, req.info, req.name!);
    });
    return { object: written, warnings };
  }

  /**
   * Deletes an object and, by its propagation policy, its dependents (objects whose
   * ownerReferences name its uid): Background (the default) deletes the owner, then its
   * dependents; Foreground deletes the dependents first; Orphan leaves them, without the
   * ownerReference. A deleted Namespace takes every object in it.
   */
  async delete(
    req: ResourceRequest,
    body: unknown,
    query: URLSearchParams = new URLSearchParams(),
    dryRun = false,
  ): Promise<KubeObject> {
    const options = (body ?? {}) as {
      preconditions?: { resourceVersion?: string; uid?: string };
      propagationPolicy?: string;
      orphanDependents?: boolean;
      gracePeriodSeconds?: number | string;
      dryRun?: unknown;
    };
    // kubectl sends a delete's dry run in its DeleteOptions body, not the query.
    if (options.dryRun !== undefined) {
      if (!Array.isArray(options.dryRun) || options.dryRun.some((v) => v !== 'All'))
        throw new BerthError(
          'BadRequest',
          `DeleteOptions.dryRun must be ["All"], not ${JSON.stringify(options.dryRun)}`,
        );
      if (options.dryRun.length) dryRun = true;
    }
    const policy =
      query.get('propagationPolicy') ??
      options.propagationPolicy ??
      (options.orphanDependents === true ? 'Orphan' : 'Background');
    if (!(PROPAGATION_POLICIES as readonly string[]).includes(policy)) {
      throw new BerthError(
        'BadRequest',
        `propagationPolicy must be one of ${PROPAGATION_POLICIES.join(', ')}, not ${JSON.stringify(policy)}`,
      );
    }
    // As Kubernetes keeps default and kube-system: berth-system holds the tokens, default is assumed everywhere.
    if (req.info.kind === 'Namespace' && BUILTIN_NAMESPACES.includes(req.name!))
      throw new BerthError('Forbidden', `namespaces "${req.name}" is forbidden: this namespace may not be deleted`);
    const pre = options.preconditions;
    const current = await this.get(req);
    if (pre?.uid && current.metadata.uid !== pre.uid)
      throw new BerthError(
        'Conflict',
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`,
      );
    if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw new BerthError(
        'Conflict',
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
      );
    }
    // A dry run answers what would be deleted (a running pod: marked for deletion), and deletes nothing.
    if (dryRun)
      return (
        (req.info.kind === 'Pod' ? gracefulDeletion(current, this.now(), undefined) : undefined) ??
        finalizingDeletion(current, this.now()) ??
        current
      );
    if (req.info.kind === 'Pod') {
      const marked = await this.markPodForDeletion(
        req,
        current,
        query.get('gracePeriodSeconds') ?? options.gracePeriodSeconds,
      );
      if (marked) return marked;
    }
    // A Namespace is Terminating (no new content admitted) until its contents are gone, then goes.
    if (req.info.kind === 'Namespace') {
      const terminating = await this.markDeleting(req, current, { phase: 'Terminating' });
      await this.deleteNamespaceContents(req.name!);
      await this.store.delete(this.ref(req)).catch(ignoreGone);
      return terminating;
    }
    // Foreground: dependents go first. Orphan: dependents are freed first (Kubernetes' orphan
    // finalizer), so the garbage collector never sees them owned by an owner that is gone. Either
    // way the owner is marked as being deleted first, as Kubernetes' finalizers hold it: its
    // controller then neither replaces what goes nor adopts back what is freed.
    if (policy === 'Foreground' || policy === 'Orphan') {
      await this.cascade(await this.markDeleting(req, current), policy);
    }
    // An object with finalizers is marked and waits for them to be taken off (see finalizedBy).
    const finalizing = finalizingDeletion(current, this.now());
    if (finalizing) return (await this.updateRead(req, current, (c) => finalizingDeletion(c, this.now()))) ?? current;
    // With the client's preconditions, the version read must still be current; without, a write
    // that came in between (an agent's status) does not stop the delete, as in Kubernetes.
    const deleted = await this.store
      .delete(
        this.ref(req),
        pre?.resourceVersion || pre?.uid ? { expectedRevision: Number(current.metadata.resourceVersion) } : {},
      )
      .catch((e) => {
        throw notFound(e, req.info, req.name!);
      });
    if (policy === 'Background') await this.cascade(deleted, policy);
    return deleted;
  }

  /** Sets the object's deletionTimestamp, and `status` if given. */
  private markDeleting(req: ResourceRequest, read: KubeObject, status?: Record<string, unknown>): Promise<KubeObject> {
    return this.updateRead(req, read, (current) => ({
      ...current,
      metadata: { ...current.metadata, deletionTimestamp: current.metadata.deletionTimestamp ?? timestamp(this.now()) },
      ...(status ? { status: { ...(current.status as object), ...status } } : {}),
    })) as Promise<KubeObject>;
  }

  /**
   * Writes `change` of the object as read, with that read as the precondition; when a write came in
   * between (an agent's status), reads again and retries. `change` may answer undefined: nothing to write.
   */
  private async updateRead(
    req: ResourceRequest,
    read: KubeObject,
    change: (current: KubeObject) => KubeObject | undefined,
  ): Promise<KubeObject | undefined> {
    for (let current = read, attempt = 0; ; attempt++) {
      const next = change(current);
      if (!next) return undefined;
      try {
        return await this.store.update({
          ...next,
          metadata: { ...next.metadata, resourceVersion: current.metadata.resourceVersion },
        });
      } catch (e) {
        if (!isBerthError(e, 'Conflict') || attempt >= 5) throw notFound(e, req.info, req.name!);
        current = await this.get(req);
      }
    }
  }

  /**
   * A pod running on a node is marked for deletion, not removed (see gracefulDeletion); its agent
   * removes it once stopped. Returns the marked pod, or undefined when it is to go at once.
   */
  private async markPodForDeletion(
    req: ResourceRequest,
    read: KubeObject,
    grace: number | string | null | undefined,
  ): Promise<KubeObject | undefined> {
    const seconds = grace === null || grace === undefined || grace === '' ? undefined : Number(grace);
    if (seconds !== undefined && !(Number.isInteger(seconds) && seconds >= 0))
      throw new BerthError(
        'BadRequest',
        `gracePeriodSeconds must be a non-negative integer, not ${JSON.stringify(grace)}`,
      );
    return this.updateRead(req, read, (current) => gracefulDeletion(current, this.now(), seconds));
  }

  /**
   * Services stored before Berth gave out ClusterIPs get one (a store carried over from an older
   * version): each written through the same allocation as an update. Returns how many.
   */
  async allocateMissingClusterIPs(): Promise<number> {
    const { items } = await this.store.list({ group: '', kind: 'Service' });
    let given = 0;
    for (const s of items as (KubeObject & ServiceObject)[]) {
      if (s.spec?.clusterIP || s.spec?.type === 'ExternalName') continue;
      const expected = Number(s.metadata.resourceVersion);
      const update = async (o: KubeObject, lock: TxnOp[]) =>
        (await this.store.txn([...lock, { op: 'update', object: o, expectedRevision: expected }])).results[
          lock.length
        ]!;
      await this.withServiceAllocations(s, s, update).then(
        () => given++,
        (e: unknown) => {
          // Changed meanwhile: its writer allocated for it.
          if (!isBerthError(e, 'Conflict')) throw e;
        },
      );
    }
    return given;
  }

  /**
   * Gives a Service its ClusterIP, NodePorts and proxy ports (api/services.ts) and writes it with
   * the allocation lock (runtime/service-allocation.ts); allocates again when another server or a
   * sync allocated in between. Writes of this server queue, so they do not race each other.
   */
  private withServiceAllocations(
    service: KubeObject,
    previous: KubeObject | undefined,
    write: (o: KubeObject, lock: TxnOp[]) => Promise<KubeObject>,
  ): Promise<KubeObject> {
    const run = this.serviceWrites.then(async () => {
      for (let attempt = 1; ; attempt++) {
        const allocation = await allocateServices(
          this.store,
          this.serviceCidr,
          [
            {
              desired: service as KubeObject & ServiceObject,
              previous: previous as (KubeObject & ServiceObject) | undefined,
            },
          ],
          this.now(),
        );
        if (allocation.problems.length)
          throw new InvalidObjectError(
            'Service',
            service.metadata.name,
            allocation.problems.map(({ problem: p }) => ({
              field: renderPath(p.path),
              message: p.message,
              reason: 'FieldValueInvalid',
            })),
          );
        try {
          return await write(allocation.services[0]!, [allocation.lock]);
        } catch (e) {
          if (attempt >= ALLOCATION_ATTEMPTS || !(await lostAllocationRace(this.store, e, allocation.lockRevision)))
            throw e;
        }
      }
    });
    this.serviceWrites = run.catch(() => {});
    return run;
  }

  /** The objects that name `owner` in their ownerReferences (same namespace, or cluster-scoped). */
  private async dependents(owner: KubeObject): Promise<{ info: KindInfo; object: KubeObject }[]> {
    const uid = owner.metadata.uid;
    if (!uid) return [];
    const out: { info: KindInfo; object: KubeObject }[] = [];
    for (const info of KINDS) {
      if (owner.metadata.namespace ? !info.namespaced : info.namespaced) continue;
      const { items } = await this.store.list({
        group: info.group,
        kind: info.kind,
        ...(info.namespaced ? { namespace: owner.metadata.namespace! } : {}),
      });
      for (const o of items) if (o.metadata.ownerReferences?.some((r) => r.uid === uid)) out.push({ info, object: o });
    }
    return out;
  }

  private async cascade(owner: KubeObject, policy: 'Background' | 'Foreground' | 'Orphan'): Promise<void> {
    for (const { info, object } of await this.dependents(owner)) {
      const ref = {
        group: info.group,
        kind: info.kind,
        namespace: object.metadata.namespace ?? '',
        name: object.metadata.name,
      };
      if (policy === 'Orphan') {
        const ownerReferences = object.metadata.ownerReferences!.filter((r) => r.uid !== owner.metadata.uid);
        await this.store.update({ ...object, metadata: { ...object.metadata, ownerReferences } }).catch(ignoreGone);
        continue;
      }
      // Dependents of dependents follow the same policy (a Deployment's ReplicaSets' Pods).
      if (policy === 'Foreground') await this.cascade(object, policy);
      const gone = await this.store.delete(ref).catch(ignoreGone);
      if (gone && policy === 'Background') await this.cascade(gone, policy);
    }
  }

  /** A deleted Namespace takes its objects with it. */
  private async deleteNamespaceContents(namespace: string): Promise<void> {
    for (const k of KINDS.filter((x) => x.namespaced)) {
      const { items } = await this.store.list({ group: k.group, kind: k.kind, namespace });
      for (const o of items)
        await this.store.delete({ group: k.group, kind: k.kind, namespace, name: o.metadata.name }).catch(ignoreGone);
    }
  }

  private async requireNamespace(namespace: string): Promise<void> {
    if (BUILTIN_NAMESPACES.includes(namespace)) return;
    const ns = await getIfExists(this.store, { group: '', kind: 'Namespace', namespace: '', name: namespace });
    if (!ns) throw new BerthError('NotFound', `namespaces "${namespace}" not found`);
    if (ns.metadata.deletionTimestamp)
      throw new BerthError(
        'Forbidden',
        `unable to create new content in namespace ${namespace} because it is being terminated`,
      );
  }

  /** Checks the body against the request and runs the manifest pipeline on it. */
  private validate(req: ResourceRequest, body: unknown, strict: boolean): { object: KubeObject; warnings: string[] } {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new BerthError('BadRequest', 'the request body must be a JSON object');
    const b = body as Record<string, unknown>;
    const expectedVersion = apiVersionOf(req.info);
    if (b.kind !== undefined && b.kind !== req.info.kind) {
      throw new BerthError(
        'BadRequest',
        `the kind in the body (${String(b.kind)}) does not match the request path (${req.info.kind})`,
      );
    }
    const meta = (typeof b.metadata === 'object' && b.metadata !== null ? b.metadata : {}) as Record<string, unknown>;
    if (req.namespace !== undefined && meta.namespace !== undefined && meta.namespace !== req.namespace) {
      throw new BerthError(
        'BadRequest',
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    if (req.name !== undefined && meta.name !== undefined && meta.name !== req.name && req.verb !== 'create') {
      throw new BerthError(
        'BadRequest',
        `the name of the object (${String(meta.name)}) does not match the name on the URL (${req.name})`,
      );
    }
    // generateName: a create without a name gets the prefix and five random characters, as Kubernetes names it.
    const generated =
      req.verb === 'create' && !meta.name && typeof meta.generateName === 'string' && meta.generateName
        ? { name: `${meta.generateName}${randomSuffix()}` }
        : {};
    const input = {
      ...b,
      apiVersion: b.apiVersion ?? expectedVersion,
      kind: req.info.kind,
      metadata: { ...meta, ...generated, ...(req.name && req.verb !== 'create' ? { name: req.name } : {}) },
    };
    const { object, findings } = normalizeObject(input, {
      strict,
      defaultNamespace: req.namespace ?? 'default',
      context: 'api',
    });
    const errors = findings.filter((f) => f.severity === 'error');
    const name = String((input.metadata as { name?: unknown }).name ?? '');
    if (errors.length || !object) throw new InvalidObjectError(req.info.kind, name, errors.map(cause));
    if (object.apiVersion !== expectedVersion) {
      throw new BerthError(
        'BadRequest',
        `the API version in the data (${String(b.apiVersion)}) does not match the expected API version (${expectedVersion})`,
      );
    }
    return {
      object: object as KubeObject,
      warnings: findings
        .filter((f) => f.severity === 'warning')
        .map((f) => (f.path.length ? `${renderPath(f.path)}: ${f.message}` : f.message)),
    };
  }
}

/** What an update would store, without storing it: the read version's precondition holds, its resourceVersion stays. */
function dryRunUpdate(current: KubeObject, next: KubeObject, expected: number | undefined): Promise<KubeObject> {
  if (expected !== undefined && expected !== Number(current.metadata.resourceVersion))
    return Promise.reject(new BerthError('Conflict', 'stale'));
  return Promise.resolve({
    ...next,
    metadata: { ...next.metadata, resourceVersion: current.metadata.resourceVersion },
  });
}

function cause(f: Finding): InvalidCause {
  return {
    field: renderPath(f.path),
    message: f.message,
    reason:
      f.reason === 'MissingField'
        ? 'FieldValueRequired'
        : f.reason === 'UnknownField'
          ? 'FieldValueUnknown'
          : 'FieldValueInvalid',
  };
}

function revisionIn(body: unknown): number | undefined {
  const rv = (body as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata?.resourceVersion;
  if (rv === undefined || rv === '' || rv === null) return undefined;
  if (typeof rv !== 'string' || !/^[0-9]+$/.test(rv))
    throw new BerthError('BadRequest', `metadata.resourceVersion must be a decimal string, not ${JSON.stringify(rv)}`);
  return Number(rv);
}

const groupSuffix = (info: KindInfo): string => (info.group ? `.${info.group}` : '');

function notFound(e: unknown, info: KindInfo, name: string): unknown {
  return isBerthError(e, 'NotFound')
    ? new BerthError('NotFound', `${info.plural}${groupSuffix(info)} "${name}" not found`)
    : e;
}

export { timestamp };
