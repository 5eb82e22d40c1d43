//! The shop's product list: what a Texas hemp shop stocks, at shelf prices, with the
//! range its lab results fall in and how well it sells within its category.

/// How many units a line of a product usually has: `(quantity, per mille)`.
pub(crate) type QuantityMix = &'static [(i64, u64)];
pub(crate) const SINGLE: QuantityMix = &[(1, 880), (2, 100), (3, 20)];
pub(crate) const PRE_ROLLS: QuantityMix = &[(1, 700), (2, 200), (3, 100)];
pub(crate) const DRINKS: QuantityMix = &[(1, 500), (2, 250), (3, 100), (4, 100), (6, 50)];
pub(crate) const SUPPLIES: QuantityMix = &[(1, 800), (2, 150), (5, 50)];

pub(crate) struct Category {
    pub(crate) name: &'static str,
    pub(crate) code: &'static str,
    /// Share of all line items, in percent.
    pub(crate) share: u64,
    pub(crate) quantities: QuantityMix,
}

pub(crate) const FLOWER: Category = Category {
    name: "Flower",
    code: "FLW",
    share: 27,
    quantities: SINGLE,
};
pub(crate) const PRE_ROLL: Category = Category {
    name: "Pre-Rolls",
    code: "PRE",
    share: 14,
    quantities: PRE_ROLLS,
};
pub(crate) const EDIBLES: Category = Category {
    name: "Edibles",
    code: "EDB",
    share: 22,
    quantities: SINGLE,
};
pub(crate) const TINCTURES: Category = Category {
    name: "Tinctures",
    code: "TNC",
    share: 7,
    quantities: SINGLE,
};
pub(crate) const VAPES: Category = Category {
    name: "Vapes",
    code: "VAP",
    share: 16,
    quantities: SINGLE,
};
pub(crate) const TOPICALS: Category = Category {
    name: "Topicals",
    code: "TOP",
    share: 3,
    quantities: SINGLE,
};
pub(crate) const BEVERAGES: Category = Category {
    name: "Beverages",
    code: "BEV",
    share: 6,
    quantities: DRINKS,
};
pub(crate) const ACCESSORIES: Category = Category {
    name: "Accessories",
    code: "ACC",
    share: 5,
    quantities: SUPPLIES,
};

/// Δ9-THC a product's lab results fall in, in basis points of dry weight; `None` for
/// products without cannabinoids (accessories), which need no certificate.
pub(crate) type Potency = Option<(i64, i64)>;

pub(crate) struct Template {
    pub(crate) category: &'static Category,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) price_cents: i64,
    pub(crate) potency: Potency,
    /// Relative demand within the category before the seed's ranking.
    pub(crate) popularity: f64,
}

pub(crate) const CATEGORIES: [&Category; 8] = [
    &FLOWER,
    &PRE_ROLL,
    &EDIBLES,
    &TINCTURES,
    &VAPES,
    &TOPICALS,
    &BEVERAGES,
    &ACCESSORIES,
];

pub(crate) fn templates() -> Vec<Template> {
    let mut all = Vec::with_capacity(160);
    let mut add =
        |category, name: String, description: String, price_cents, potency, popularity| {
            // Shelf prices end in 99 cents.
            let price_cents = price_cents - 1;
            all.push(Template {
                category,
                name,
                description,
                price_cents,
                potency,
                popularity,
            });
        };

    // Flower: CBD strains and THCa strains in three jar sizes; small jars sell most.
    let cbd = [
        "Lifter",
        "Sour Space Candy",
        "Cherry Wine",
        "Hawaiian Haze",
        "Special Sauce",
    ];
    let thca = [
        "Gelato 41",
        "Wedding Cake",
        "Purple Punch",
        "Blue Dream",
        "Gorilla Glue",
    ];
    let sizes = [("3.5 g", 1.0, 3.0), ("7 g", 1.75, 1.2), ("28 g", 5.5, 0.15)];
    for (strain, thca_strain) in cbd.iter().zip(thca) {
        for &(size, factor, popularity) in &sizes {
            add(
                &FLOWER,
                format!("{strain} CBD Flower {size}"),
                format!("{strain} high-CBD hemp flower, {size} jar. Indoor grown, hand trimmed."),
                round_price(2_000.0 * factor),
                Some((5, 25)),
                popularity,
            );
            add(
                &FLOWER,
                format!("{thca_strain} THCa Flower {size}"),
                format!(
                    "{thca_strain} THCa hemp flower, {size} jar. Indoor grown, cured two weeks."
                ),
                round_price(4_000.0 * factor),
                Some((12, 29)),
                popularity * 1.2,
            );
        }
    }

    // Pre-rolls: singles, five-packs and infused singles.
    for strain in [
        "Lifter",
        "Cherry Wine",
        "Gelato 41",
        "Wedding Cake",
        "Blue Dream",
        "Sour Diesel",
    ] {
        add(
            &PRE_ROLL,
            format!("{strain} Pre-Roll 1 g"),
            format!("One 1 g {strain} hemp pre-roll."),
            800,
            Some((8, 29)),
            3.0,
        );
        add(
            &PRE_ROLL,
            format!("{strain} Pre-Roll 5-Pack"),
            format!("Five 0.7 g {strain} hemp pre-rolls."),
            3_000,
            Some((8, 29)),
            1.2,
        );
        add(
            &PRE_ROLL,
            format!("{strain} Infused Pre-Roll 1.5 g"),
            format!("{strain} pre-roll infused with THCa diamonds and kief."),
            1_500,
            Some((15, 29)),
            1.5,
        );
    }

    // Edibles: hemp-derived Δ9 and Δ8 gummies, CBD gummies, chocolate and baked goods.
    for flavor in [
        "Watermelon",
        "Blue Raspberry",
        "Mango",
        "Sour Apple",
        "Peach Ring",
        "Mixed Berry",
    ] {
        add(
            &EDIBLES,
            format!("Delta-9 Gummies 10 mg {flavor} (20 ct)"),
            format!("{flavor} gummies with 10 mg hemp-derived Δ9-THC each."),
            3_000,
            Some((18, 29)),
            2.5,
        );
    }
    for flavor in [
        "Strawberry",
        "Green Apple",
        "Pineapple",
        "Grape",
        "Tropical",
    ] {
        add(
            &EDIBLES,
            format!("Delta-8 Gummies 25 mg {flavor} (20 ct)"),
            format!("{flavor} gummies with 25 mg Δ8-THC each."),
            2_800,
            Some((0, 3)),
            1.8,
        );
    }
    for (name, price) in [
        ("CBD Gummies 25 mg (30 ct)", 3_500),
        ("CBD Gummies 50 mg Extra Strength (30 ct)", 5_500),
        ("CBD + Melatonin Sleep Gummies (30 ct)", 4_000),
        ("CBN + Delta-9 Night Gummies (20 ct)", 3_800),
        ("Delta-9 Milk Chocolate Bar 100 mg", 2_200),
        ("Delta-9 Dark Chocolate Bar 100 mg", 2_200),
        ("Sea Salt Caramel Bites 5 mg (10 ct)", 2_400),
        ("Peanut Butter Cups 10 mg (4 ct)", 1_800),
        ("Chocolate Chip Cookie 10 mg", 800),
        ("Snickerdoodle Cookie 10 mg", 800),
        ("Crispy Rice Treat 25 mg", 1_000),
        ("Sour Watermelon Hard Candy 5 mg (10 ct)", 1_600),
        ("Cherry Lozenges 5 mg (10 ct)", 1_600),
        ("Hemp Honey Sticks (10 ct)", 1_200),
        ("Delta-9 Gummy Worms 5 mg (20 ct)", 2_500),
        ("Microdose Mints 2.5 mg (40 ct)", 2_000),
        ("Spicy Mango Chili Gummies 10 mg (10 ct)", 1_800),
        ("Brownie Bite 20 mg", 900),
        ("Lemon Drop Gummies 15 mg (10 ct)", 2_000),
    ] {
        add(
            &EDIBLES,
            name.to_owned(),
            format!("{name}: hemp-derived, lab tested, made in Texas."),
            price,
            Some((0, 28)),
            1.0,
        );
    }

    // Tinctures.
    for (name, price, potency) in [
        ("Full Spectrum CBD Oil 500 mg", 3_500, (10, 28)),
        ("Full Spectrum CBD Oil 1000 mg", 5_500, (10, 28)),
        ("Full Spectrum CBD Oil 1500 mg", 7_500, (10, 28)),
        ("Full Spectrum CBD Oil 3000 mg", 12_000, (10, 28)),
        ("Broad Spectrum CBD Oil 500 mg", 3_500, (0, 0)),
        ("Broad Spectrum CBD Oil 1000 mg", 5_500, (0, 0)),
        ("Broad Spectrum CBD Oil 2500 mg", 9_500, (0, 0)),
        ("CBD Isolate Oil 1000 mg", 4_500, (0, 0)),
        ("CBN Sleep Tincture 1000 mg", 6_000, (5, 25)),
        ("CBG Focus Tincture 1000 mg", 6_000, (5, 25)),
        ("Delta-9 Tincture 300 mg", 4_500, (18, 29)),
        ("Peppermint CBD Oil 1500 mg", 7_500, (10, 28)),
        ("Pet CBD Oil 250 mg", 3_000, (0, 0)),
        ("Pet CBD Oil 500 mg", 4_500, (0, 0)),
        ("Citrus CBD Oil 750 mg", 4_500, (10, 28)),
    ] {
        add(
            &TINCTURES,
            name.to_owned(),
            format!("{name}, 30 ml dropper bottle."),
            price,
            Some(potency),
            1.0,
        );
    }

    // Vapes.
    for strain in [
        "Pineapple Express",
        "Granddaddy Purple",
        "Sour Diesel",
        "Jack Herer",
        "Northern Lights",
        "Zkittlez",
    ] {
        add(
            &VAPES,
            format!("Delta-8 Cartridge 1 g {strain}"),
            format!("510-thread 1 g Δ8-THC cartridge, {strain} terpenes."),
            3_000,
            Some((1, 10)),
            1.5,
        );
        add(
            &VAPES,
            format!("THCa Disposable 2 g {strain}"),
            format!("Rechargeable 2 g THCa live resin disposable, {strain}."),
            4_500,
            Some((10, 28)),
            2.0,
        );
    }
    for strain in ["Blue Dream", "OG Kush", "Strawberry Cough"] {
        add(
            &VAPES,
            format!("HHC Disposable 1 g {strain}"),
            format!("1 g HHC disposable, {strain} terpenes."),
            3_500,
            Some((0, 5)),
            1.0,
        );
        add(
            &VAPES,
            format!("Live Resin Delta-8 Cartridge 1 g {strain}"),
            format!("1 g Δ8-THC live resin cartridge, {strain}."),
            3_800,
            Some((1, 10)),
            1.0,
        );
    }
    add(
        &VAPES,
        "CBD Vape Pen 500 mg Mint".to_owned(),
        "Disposable CBD vape pen, mint.".to_owned(),
        3_000,
        Some((0, 3)),
        0.6,
    );
    add(
        &VAPES,
        "CBD Vape Pen 500 mg Mango".to_owned(),
        "Disposable CBD vape pen, mango.".to_owned(),
        3_000,
        Some((0, 3)),
        0.6,
    );

    // Topicals.
    for (name, price) in [
        ("CBD Pain Relief Balm 1000 mg", 4_500),
        ("CBD Roll-On 500 mg", 3_500),
        ("Lavender CBD Lotion 250 mg", 3_000),
        ("Menthol Muscle Rub 1000 mg", 4_000),
        ("Eucalyptus CBD Bath Bomb", 1_000),
        ("CBD Lip Balm", 600),
        ("CBD Face Serum 300 mg", 4_800),
        ("CBD Massage Oil 500 mg", 3_800),
        ("Cooling CBD Gel 750 mg", 3_600),
        ("CBD Foot Cream 250 mg", 2_600),
        ("CBD Salve 2000 mg", 6_500),
        ("CBD Transdermal Patch (10 ct)", 4_000),
    ] {
        add(
            &TOPICALS,
            name.to_owned(),
            format!("{name}, for external use only."),
            price,
            Some((0, 25)),
            1.0,
        );
    }

    // Beverages.
    for flavor in ["Lime", "Grapefruit", "Black Cherry", "Mango"] {
        add(
            &BEVERAGES,
            format!("Delta-9 Seltzer 5 mg {flavor}"),
            format!("12 oz {flavor} seltzer with 5 mg hemp-derived Δ9-THC."),
            600,
            Some((1, 4)),
            2.0,
        );
    }
    for (name, price) in [
        ("Delta-9 Seltzer 10 mg Variety 4-Pack", 2_200),
        ("CBD Sparkling Water", 500),
        ("CBD Cold Brew Coffee", 600),
        ("Relaxation Shot 25 mg CBD", 800),
        ("Hemp Lemonade 5 mg", 600),
        ("CBD Iced Tea", 500),
        ("CBN Sleep Shot", 800),
        ("Delta-9 Root Beer 10 mg", 700),
    ] {
        add(
            &BEVERAGES,
            name.to_owned(),
            format!("{name}, served cold."),
            price,
            Some((0, 4)),
            1.0,
        );
    }

    // Accessories carry no cannabinoids, so no certificate applies.
    for (name, price, popularity) in [
        ("Herb Grinder 4-Piece", 2_500, 1.0),
        ("King Size Rolling Papers", 300, 3.0),
        ("Hemp Wraps (2 ct)", 300, 2.0),
        ("Glass Hand Pipe", 2_000, 0.8),
        ("Metal Rolling Tray", 1_500, 0.6),
        ("510 Variable Voltage Battery", 2_000, 1.0),
        ("Butane Lighter", 200, 3.0),
        ("Smell-Proof Pouch", 1_800, 0.6),
        ("Cone Filler", 3_000, 0.3),
        ("Pre-Rolled Cones (6 ct)", 500, 1.5),
        ("Silicone Bong", 3_500, 0.4),
        ("Glass Water Pipe 10 in", 6_500, 0.3),
        ("Ceramic Ashtray", 1_000, 0.5),
        ("UV Glass Stash Jar", 1_200, 0.6),
        ("Mini Dab Rig", 5_500, 0.2),
    ] {
        add(
            &ACCESSORIES,
            name.to_owned(),
            format!("{name}."),
            price,
            None,
            popularity,
        );
    }
    all
}

/// Whole dollars, in cents.
fn round_price(cents: f64) -> i64 {
    ((cents / 100.0).round() as i64) * 100
}
