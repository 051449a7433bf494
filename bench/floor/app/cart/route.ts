import { z } from 'zod';

const Form = z.object({ productId: z.string().min(1).max(100), quantity: z.coerce.number().int().min(1).max(99) });

/** The least an "Add to cart" form post can do: validate, set the cart cookie, redirect. */
export async function POST(req: Request): Promise<Response> {
  const form = Form.safeParse(Object.fromEntries(await req.formData()));
  if (!form.success) return new Response('Bad request', { status: 400 });
  const cart = `${form.data.productId}x${form.data.quantity}`;
  return new Response(null, { status: 303, headers: { location: '/checkout', 'set-cookie': `floor_cart=${cart}; Path=/; HttpOnly; SameSite=Lax` } });
}
