// The shop's name and description, for the App Router's metadata and the Pages Router's <head>.
export const SITE_NAME = 'Brisk';
export const SITE_DESCRIPTION = 'Coffee, tea and the gear to brew them.';
