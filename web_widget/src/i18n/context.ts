// The strings of the language in use, for any component.

import { createContext } from "preact";
import { useContext } from "preact/hooks";

import { STRINGS, type Strings } from "./strings.ts";

export const StringsContext = createContext<Strings>(STRINGS.en);

export const useStrings = (): Strings => useContext(StringsContext);
