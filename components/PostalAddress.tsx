// How an order's shipping address is written, on the shopper's order page and the admin's:
// street (and second line) on one line, then postal code, city and country. The caller puts
// the name above it and the element around it.
export interface Address {
  addressLine1: string;
  addressLine2: string | null;
  postalCode: string;
  city: string;
  country: string;
}

export function AddressLines({ address: a }: { address: Address }) {
  return (
    <>
      {a.addressLine1}
      {a.addressLine2 ? `, ${a.addressLine2}` : ''}
      <br />
      {a.postalCode} {a.city}, {a.country}
    </>
  );
}
