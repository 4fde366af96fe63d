/**
 * The answers of Identify and ListCards as vifplug.v1 messages: the
 * contract's FunctionIdentity and CardListing (registry/provider.ts) turned
 * into IdentifyResponse and ListCardsResponse.
 */

import { CardSelection, type IdentifyResponse, type ListCardsResponse } from '../gen/vifplug/v1/vifplug';
import type { CardListing, CardSelection as Selection, FunctionIdentity } from '../registry';

export function toWireIdentity(identity: FunctionIdentity): IdentifyResponse {
  return {
    vfPciAddress: identity.vfPciAddress,
    pfPciAddress: identity.pfPciAddress,
    pfNetdev: identity.pfNetdev,
    pfMacAddress: identity.pfMac,
    vfNum: identity.vfNum,
    cardSerialNumber: identity.cardSerial,
    cardSerialProblem: identity.cardSerialProblem === undefined ? undefined : { ...identity.cardSerialProblem },
    lportOptions: new Map(identity.lportOptions),
    warnings: [...identity.warnings],
  };
}

const SELECTIONS: Record<Selection, CardSelection> = {
  'external-host-manager': CardSelection.CARD_SELECTION_EXTERNAL_HOST_MANAGER,
  'only-card': CardSelection.CARD_SELECTION_ONLY_CARD,
  'cards-ambiguous': CardSelection.CARD_SELECTION_CARDS_AMBIGUOUS,
  'no-card': CardSelection.CARD_SELECTION_NO_CARD,
  'vpd-unreadable': CardSelection.CARD_SELECTION_VPD_UNREADABLE,
};

export function toWireCards(listing: CardListing): ListCardsResponse {
  return {
    cards: listing.cards.map((c) => ({ ...c, pfPciAddresses: [...c.pfPciAddresses] })),
    chassisCardSerialNumber: listing.chassisSerial,
    selection: SELECTIONS[listing.selection],
    selectionMessage: listing.message,
    problems: listing.problems.map((p) => ({ ...p })),
  };
}
