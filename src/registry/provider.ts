/**
 * The provider contract: what a VIF plug provider implements.
 *
 * It follows OVN's plug_class (lib/plug-provider.h of the plugging-providers
 * series): a class registered under a type, opened as one shared instance,
 * and asked to prepare, finish and release each port change. Every callback
 * may return a value or a promise. Throwing a PlugError answers the caller
 * with that status and reason; throwing anything else is a provider bug and
 * answers INTERNAL with reason PROVIDER_ERROR. Either way the registry stays
 * consistent: a failed callback changes nothing the registry owns.
 */

/** What the caller is doing with the port (OVN's plug_op_type). */
export type OpType = 'create' | 'remove';

/**
 * What the caller tells the provider about the port (OVN's plug_port_ctx_in).
 * Owned by the registry and kept, unchanged, for the finish and destroy calls
 * of the same ctx.
 */
export interface PortCtxIn {
  readonly opType: OpType;
  /** Whether the chassis uses DPDK. */
  readonly useDpdk: boolean;
  /** The logical port's name; useful to track per-port resources. */
  readonly lportName: string;
  /**
   * The logical port's options as OVN forwards them. By convention a provider
   * reads only its own "vif-plug:<type>:<key>" keys.
   */
  readonly lportOptions: ReadonlyMap<string, string>;
  /** The existing interface when the caller knows one ('' otherwise). */
  readonly ifaceName: string;
  readonly ifaceType: string;
  readonly ifaceOptions: ReadonlyMap<string, string>;
}

/**
 * An empty options map to share: a live ctx keeps its maps until released and
 * an empty Map costs ~200 bytes, so requests and answers without options use
 * this one.
 */
export const NO_OPTIONS: ReadonlyMap<string, string> = new Map();

/** The interface a provider asks for (OVN's plug_port_ctx_out). */
export interface PortCtxOut {
  /** The Port and Interface name. */
  readonly name: string;
  /** The Interface type; '' leaves it unset (a system netdev). */
  readonly type: string;
  /** Options to set on the Interface. */
  readonly ifaceOptions: ReadonlyMap<string, string>;
}

/**
 * A provider's answer to preparePort. `plug: true` asks the caller to go
 * ahead; for a create it must carry `out`. `plug: false` declines and must say
 * why: a stable UPPER_SNAKE `reason` and a `message` for people. A provider
 * that cannot answer at all (bad options, no matching hardware) throws a
 * PlugError instead.
 */
export type PrepareResult =
  | { readonly plug: true; readonly out?: PortCtxOut }
  | { readonly plug: false; readonly reason: string; readonly message: string };

/**
 * What the registry tells a provider callback about its time: the deadline
 * of its answer (the provider timeout, or less if the caller's deadline is
 * nearer) and a signal that fires when nobody waits for the answer any more
 * (the caller cancelled, or the deadline passed). A callback that does I/O
 * passes both on (a remote provider sends them to its process); one that
 * answers at once may ignore them. Whatever a callback answers after the
 * signal fired is not kept: a prepared create is released with
 * destroyPortCtx.
 */
export interface CallBudget {
  /** Milliseconds since the epoch. */
  readonly deadline: number;
  readonly signal: AbortSignal;
  /**
   * The same as listening to `signal`, for callbacks on a hot path: calls
   * `listener` once when the signal would fire, and returns a function that
   * stops listening. (An AbortController costs more than a whole remote
   * provider call's own work in Node 20.)
   */
  onAbort(listener: () => void): () => void;
}

/** A provider class (OVN's plug_class), registered under its type. */
export interface ProviderClass {
  /** The type the class is registered under, e.g. "dummy". */
  readonly type: string;

  /**
   * Interface option keys the class owns. A caller updating an interface
   * deletes those of them that the provider no longer returns and leaves
   * every other key alone.
   */
  readonly maintainedIfaceOptions: readonly string[];

  /**
   * Called once when the class is registered. Throwing refuses the
   * registration (FAILED_PRECONDITION, PROVIDER_INIT_FAILED) and the class is
   * not registered. Optional.
   */
  init?(): void | Promise<void>;

  /**
   * Called when the class is unregistered, never while an instance is open.
   * Throwing refuses the unregistration and the class stays registered.
   * Optional.
   */
  destroy?(): void | Promise<void>;

  /**
   * Creates the class's instance. Called only when no instance is open; the
   * registry hands the same instance to every caller until it is closed.
   * Throwing refuses the open (FAILED_PRECONDITION, PROVIDER_OPEN_FAILED; a
   * PlugError with status UNAVAILABLE is answered as it is). `context` is
   * how the instance talks back to the registry for as long as it is open;
   * the registry always gives it (it is optional only so that a test can
   * drive a provider without a registry).
   */
  open(context?: ProviderContext): ProviderInstance | Promise<ProviderInstance>;

  /** Whether calls can succeed now (ListProviders). Optional: always serving. */
  health?(): ProviderHealth;

  /**
   * Lists the hardware ports the class can plug, as it sees them now (the
   * ListRepresentors RPC, and metrics scrapes). Goes through the registry's
   * gate like every provider call: `budget` says until when the answer is
   * awaited. Must not block for long. Optional: classes that plug no
   * hardware ports leave it out; having it announces the capability (in
   * ProviderInfo.listsRepresentors), so nobody looks for a provider by name.
   */
  listRepresentors?(budget?: CallBudget): readonly Representor[] | Promise<readonly Representor[]>;

  /**
   * What a CMS needs to know of one of this host's VFs, from its PCI address
   * (the Identify RPC). Reads the hardware; through the gate like
   * listRepresentors. Throws a PlugError for a VF it cannot identify.
   * Optional: with listCards, announces that the class identifies hardware.
   */
  identify?(vfPciAddress: string, budget?: CallBudget): FunctionIdentity | Promise<FunctionIdentity>;

  /** The cards whose PFs this host sees, and the serial that identifies the chassis (the ListCards RPC). Optional. */
  listCards?(budget?: CallBudget): CardListing | Promise<CardListing>;

  /**
   * For a class that has listRepresentors but learns only at run time whether
   * it can answer (a remote provider, from its process's GetInfo): false
   * withdraws the announcement. Optional: having listRepresentors is enough.
   */
  readonly listsRepresentors?: boolean;
}

/**
 * Which function of which eswitch a port stands for, as devlink numbers it
 * (the kernel's devlink_port_attrs; for a netdev seen only in sysfs, as its
 * phys_port_name spells them). A number the port does not have is absent.
 * Declared once: devlink's ports, the representor provider's entries and
 * the Representor below all carry these.
 */
export interface PortNumbers {
  /** 0: the local host; another: an external host's functions (a DPU's host). */
  readonly controller?: number;
  readonly pfnum?: number;
  readonly vfnum?: number;
  readonly sfnum?: number;
  /** The function belongs to an external controller (a DPU's host), not to this host. */
  readonly external?: boolean;
}

/** A port of an SR-IOV / SmartNIC eswitch that a provider can plug. */
export interface Representor extends PortNumbers {
  /** The representor netdev; '' while the port has none yet. */
  readonly netdev: string;
  /** 0 when unknown. */
  readonly ifindex: number;
  /** devlink flavour: physical, pcipf, pcivf, pcisf or virtual. */
  readonly flavour: string;
  /** The devlink device, e.g. "pci/0000:07:00.0"; "pci/<address>" when seen in sysfs only. */
  readonly device: string;
  readonly portIndex?: number;
  /** The PF MAC that selects the port, '' when none is known. */
  readonly pfMac: string;
  readonly source: 'devlink' | 'sysfs';
  readonly physPortName: string;
  /** The lport options that select this port; empty if none can. */
  readonly lportOptions: ReadonlyMap<string, string>;
}

/** Why a card's serial number could not be read from a PF's PCI VPD. */
export interface CardProblem {
  readonly pciAddress: string;
  /** VPD_MISSING, VPD_UNREADABLE, VPD_MALFORMED, VPD_CHECKSUM, VPD_NO_SERIAL. */
  readonly reason: string;
  readonly message: string;
}

/** One of this host's VFs as a CMS reports it for a remote-managed port. */
export interface FunctionIdentity {
  readonly vfPciAddress: string;
  readonly pfPciAddress: string;
  readonly pfNetdev: string;
  /** The PF netdev's current address (Nova's pf_mac_address). */
  readonly pfMac: string;
  readonly vfNum: number;
  /** '' when unreadable (cardSerialProblem says why). */
  readonly cardSerial: string;
  readonly cardSerialProblem?: CardProblem;
  /** The options that select the VF's representor on the DPU. */
  readonly lportOptions: ReadonlyMap<string, string>;
  readonly warnings: readonly string[];
}

/** A card as its PFs' PCI VPD describe it. */
export interface CardInfo {
  readonly serialNumber: string;
  readonly partNumber: string;
  readonly productName: string;
  readonly engineeringChange: string;
  readonly pfPciAddresses: readonly string[];
  /** Its eswitch manages an external host's functions (a DPU's card, seen from the DPU). */
  readonly managesExternalHost: boolean;
  readonly selected: boolean;
}

/** Why a card was picked as the chassis's, or none. */
export type CardSelection = 'external-host-manager' | 'only-card' | 'cards-ambiguous' | 'no-card' | 'vpd-unreadable';

export interface CardListing {
  readonly cards: readonly CardInfo[];
  /** '' when none is picked. */
  readonly chassisSerial: string;
  readonly selection: CardSelection;
  readonly message: string;
  readonly problems: readonly CardProblem[];
}

/** What the registry offers an open instance (given to ProviderClass.open). */
export interface ProviderContext {
  /** The id the registry knows the instance by (a remote provider is told it). */
  readonly instanceId: string;

  /**
   * Says, without being asked, that the instance's view changed: whatever
   * run() would answer true for (a representor appeared, vanished or was
   * renamed; a lookup table changed). Controllers watching the registry
   * (the Watch RPC) then reconcile at once, so a port waiting for hardware
   * plugs when the hardware appears instead of at the next poll. Call it
   * after the change is visible to preparePort. Cheap and safe to call
   * often (watchers get merged events), from any callback or timer; calls
   * after the instance closed are ignored. OVN's plug_class has no such
   * hook: a hardware event there waits until the controller wakes up for
   * another reason.
   */
  viewChanged(): void;
}

/** An open instance of a provider class (OVN's struct plug). */
export interface ProviderInstance {
  /**
   * Periodic work, e.g. re-reading the hardware. Returns true if something
   * changed that a controller should act on (its lookup tables). Must be
   * bounded in time: it runs while callers wait. Optional (never changes).
   */
  run?(budget?: CallBudget): boolean | Promise<boolean>;

  /**
   * Releases the instance. Called once, after every call in flight on the
   * instance finished and every ctx it held was destroyed. Optional.
   */
  close?(): void | Promise<void>;

  /**
   * Decides what to do for a port. For a create, returns the interface to
   * create or update; for a remove, whether the caller may remove it (a
   * provider may veto). Must be cheap and side-effect free: controllers call
   * it for every plugged port on every iteration. Whatever the answer refers
   * to is held until destroyPortCtx (create) or finishPort (remove).
   */
  preparePort(ctxIn: PortCtxIn, budget?: CallBudget): PrepareResult | Promise<PrepareResult>;

  /**
   * The caller committed the change prepared for ctxIn. `ctxOut` is the
   * answer of preparePort for a create and undefined for a remove. Called at
   * most once per successful prepare. Optional (nothing to do).
   */
  finishPort?(ctxIn: PortCtxIn, ctxOut: PortCtxOut | undefined, budget?: CallBudget): void | Promise<void>;

  /**
   * Releases what preparePort allocated for a create, whether or not the
   * change was committed or finished. Never called for a remove. Optional.
   */
  destroyPortCtx?(ctxIn: PortCtxIn, ctxOut: PortCtxOut, budget?: CallBudget): void | Promise<void>;
}

/** Makes a fresh class object; a class may be registered again after unregistering. */
export type ProviderFactory = () => ProviderClass;

/** Whether calls to a class can succeed now, and if not, why. */
export interface ProviderHealth {
  readonly serving: boolean;
  /** UPPER_SNAKE: why it is down, or why its view of the hardware is degraded; '' when all is well. */
  readonly reason: string;
  /** A sentence for people, '' when all is well. */
  readonly message: string;
  /** A hardware provider's picture of the hardware (absent for classes that read none). */
  readonly hardware?: HardwareView;
}

/**
 * How current a hardware provider's picture of the hardware is. Degraded
 * means calls still go through, answered from a lesser picture: the last
 * good reading while re-reads fail (stale), or a partial reading (e.g. sysfs
 * alone while devlink fails).
 */
export interface HardwareView {
  /** Re-reads fail: answers come from the reading made at lastGoodAt. */
  readonly stale: boolean;
  /** Stale, or read in a lesser way. */
  readonly degraded: boolean;
  /** Epoch ms when the picture became degraded (the first failure since it was last whole). */
  readonly since?: number;
  /** A short fixed phrase for the trouble, e.g. "devlink timeout" (a metric label). */
  readonly cause?: string;
  /** What went wrong, in words. */
  readonly reason?: string;
  /** Epoch ms of the last re-read that succeeded. */
  readonly lastGoodAt?: number;
}

export const SERVING: ProviderHealth = { serving: true, reason: '', message: '' };

/**
 * What a hardware provider tells whoever built it after each full re-read of
 * the hardware: the daemon counts and times it (metrics), and takes it as
 * the moment to look at the provider's health again (`hardware` above),
 * since a re-read is what makes the picture stale or current.
 */
export interface RefreshReport {
  /** The provider type, e.g. "representor". */
  readonly provider: string;
  /** How long the re-read took. */
  readonly seconds: number;
  /** false: it failed and the previous picture stays in use. */
  readonly ok: boolean;
}

export type RefreshListener = (report: RefreshReport) => void;

/**
 * A class whose provider lives in another process and serves
 * vifplug.provider.v1.Provider at `endpoint`. Its init dials and checks the
 * provider (and, if that fails, leaves nothing behind: no connection, no
 * timer); its destroy lets go of it.
 */
export interface RemoteProviderClass extends ProviderClass {
  readonly endpoint: string;
  health(): ProviderHealth;
  /**
   * The provider says it is back (it registered again): probe it now.
   * Resolves once it serves; rejects with the reason it is not usable.
   */
  recheck(): Promise<void>;
}

/** Makes the class of a remote provider; what `Register {type, endpoint}` uses. */
export type RemoteConnector = (type: string, endpoint: string) => RemoteProviderClass;
