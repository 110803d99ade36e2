/**
 * Which watched objects claim which names, both ways: the claimants of a name, and the
 * names an object claimed when last looked at, so a change reconciles the names it left
 * too. Kept beside the informers rather than as a store index because a route's names
 * change with its Gateways, not only with the route.
 */
export class ClaimIndex {
  private readonly byName = new Map<string, Set<string>>();
  private readonly byObject = new Map<string, string[]>();

  /**
   * Records what the object (`kind/namespace/name`) claims now (none: gone, or claims
   * nothing) and returns the names it claimed before or claims now.
   */
  set(object: string, names: readonly string[]): string[] {
    const before = this.byObject.get(object) ?? [];
    for (const name of before) {
      const holders = this.byName.get(name);
      holders?.delete(object);
      if (holders?.size === 0) this.byName.delete(name);
    }
    if (names.length) this.byObject.set(object, [...names]);
    else this.byObject.delete(object);
    for (const name of names) {
      const holders = this.byName.get(name);
      if (holders) holders.add(object);
      else this.byName.set(name, new Set([object]));
    }
    return [...new Set([...before, ...names])];
  }

  /** The objects (`kind/namespace/name`) claiming `name`. */
  holders(name: string): Iterable<string> {
    return this.byName.get(name) ?? [];
  }

  /** Every claimed name. */
  names(): Iterable<string> {
    return this.byName.keys();
  }
}
