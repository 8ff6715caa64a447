/**
 * The one way a customer's line is released: an explicit decommission. Every refusal to delete part of a line
 * ends with this, so the founder reads the same instruction whichever resource the engine reached first.
 */
export function howToDecommission(churchId?: string): string {
  const church = churchId ?? '<church id>';
  return (
    `To release the line on purpose run \`./dev church decommission --church ${church}\`: it sets the church's ` +
    "registry status to 'decommission' (every resource of the line records decommission: true), then releases it"
  );
}
