import Link from 'next/link';

export default function NotFound() {
  return (
    <main className="mx-auto max-w-xl px-4 py-24 text-center">
      <h1 className="text-3xl font-bold">Not found</h1>
      <p className="mt-2 text-stone-600">We could not find that page or product.</p>
      <Link href="/" className="mt-6 inline-block rounded-md bg-amber-700 px-5 py-2.5 font-semibold text-white">Back to the shop</Link>
    </main>
  );
}
